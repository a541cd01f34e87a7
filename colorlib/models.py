"""The networks: a U-Net generator on a ResNet18 body, and a PatchGAN discriminator.

The generator is built as the capstone built it, with fastai's ``create_body`` and
``DynamicUnet``; ImageNet weights are used when they can be had and the choice is reported.
"""
import contextlib
import io
import warnings
from pathlib import Path

import torch
from torch import nn

with warnings.catch_warnings():
    # fastai's import warns about torch.jit and pandas options, naming site-packages paths;
    # neither concerns this course.
    warnings.simplefilter("ignore")
    from fastai.vision.learner import create_body
    from fastai.vision.models.unet import DynamicUnet
from torchvision.models import ResNet18_Weights, resnet18

IMAGENET_WEIGHTS = ResNet18_Weights.IMAGENET1K_V1


def imagenet_weights_available(download=True):
    """Return True when ResNet18's ImageNet weights are cached here or could be downloaded."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(IMAGENET_WEIGHTS.url).name
    if cached.is_file():
        return True
    if not download:
        return False
    try:
        # torch.hub prints the download's cache path, a path of this machine: keep it out of outputs.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            IMAGENET_WEIGHTS.get_state_dict(progress=False)
        return True
    except Exception:  # no network or a broken download: train from random initialisation
        return False


def build_generator(size, imagenet_weights="auto", verbose=True):
    """Build the capstone's generator: a ResNet18 body (1 input channel) in a DynamicUnet.

    Parameters
    ----------
    size : int
        Square input size the U-Net is laid out for.
    imagenet_weights : {"auto", "never", "required"}
        ``"auto"`` uses ImageNet weights when cached or downloadable and falls back to random
        initialisation; ``"required"`` raises if they cannot be had.
    verbose : bool
        Print which weights the body starts from.

    Returns
    -------
    generator : nn.Module
        Maps normalised L (N, 1, size, size) to ab (N, 2, size, size).
    weights : str
        ``"imagenet"`` or ``"random"``: what the body started from.
    """
    if imagenet_weights not in ("auto", "never", "required"):
        raise ValueError(f"imagenet_weights must be auto, never or required, got {imagenet_weights!r}")
    use_imagenet = imagenet_weights != "never" and imagenet_weights_available()
    if imagenet_weights == "required" and not use_imagenet:
        raise RuntimeError("ResNet18 ImageNet weights are required but neither cached nor downloadable")
    backbone = resnet18(weights=IMAGENET_WEIGHTS if use_imagenet else None)
    body = create_body(backbone, n_in=1, pretrained=use_imagenet, cut=-2)
    generator = DynamicUnet(body, 2, (size, size))
    generator.training_size = size  # the square it colours best at, for colorlib.colorize
    generator.chroma_scale = 1.0  # what predict_ab scales its a*b* by (colorlib.calibration)
    weights = "imagenet" if use_imagenet else "random"
    if verbose:
        if use_imagenet:
            print("Generator body: ResNet18 with ImageNet weights.")
        else:
            print("WARNING: generator body starts from RANDOM weights (ImageNet weights not used).")
    return generator, weights


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


def count_parameters(model):
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe_layers(model):
    """One line per top-level block: index, type and trainable parameters."""
    lines = [f"{'block':>5}  {'type':<22} {'parameters':>12}"]
    for name, child in model.named_children():
        lines.append(f"{name:>5}  {type(child).__name__:<22} {count_parameters(child):>12,}")
    lines.append(f"{'':>5}  {'total':<22} {count_parameters(model):>12,}")
    return "\n".join(lines)
