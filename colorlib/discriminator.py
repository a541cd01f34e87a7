"""The GAN's critic: pix2pix's PatchGAN, which judges a colorization patch by patch."""
from torch import nn


class PatchDiscriminator(nn.Module):
    """pix2pix's PatchGAN: a grid of real/fake logits, each seeing a 70 x 70 patch.

    Parameters
    ----------
    in_channels : int
        3: the L channel and the ab channels, real or generated.
    filters : int
        Filters of the first layer, doubled at each down-sampling layer (at most 8x).
    n_down : int
        Down-sampling layers after the first; 3 gives the 70 x 70 receptive field.
    """

    def __init__(self, in_channels=3, filters=64, n_down=3):
        super().__init__()
        layers = [nn.Conv2d(in_channels, filters, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        channels = filters
        for i in range(1, n_down + 1):
            out = filters * min(2**i, 8)
            stride = 1 if i == n_down else 2
            layers += [
                nn.Conv2d(channels, out, 4, stride, 1, bias=False),
                nn.BatchNorm2d(out),
                nn.LeakyReLU(0.2, True),
            ]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x):
        return self.model(x)


def init_weights(module, gain=0.02):
    """pix2pix's initialisation: normal(0, 0.02) convolutions, normal(1, 0.02) batch norms."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, gain)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, gain)
        nn.init.zeros_(module.bias)
