"""The lean colour head: an encoder's stages fused at a quarter of the side, as mobile segmentation does.

Colour over a*b* bins is dense per-pixel prediction, the problem of semantic segmentation. fastai's
DynamicUnet sizes its decoder for ResNet's 512 channels: on EfficientNet-Lite0 it is 87% of the
generator's FLOPs. This head (an FPN-lite) spends its compute in the encoder and keeps itself small.
"""
import torch
from torch import nn

from colorlib.bins import upsampled

TAP_STRIDES = (4, 8, 16, 32)  # the encoder stages the head reads, by their stride
LATERAL_WIDTHS = (32, 64, 128, 128)  # each tap projected to these channels, finest first
FUSED_WIDTH = 128
PROBE_SIZE = 64  # taps are found on a probe this size: every stride up to 32 gives its own side there


def stage_taps(encoder, strides=TAP_STRIDES):
    """The indices of an encoder's children whose outputs are its last at each stride, and their channels.

    The encoder is a ``nn.Sequential`` that halves the side now and then (ResNet's body, or
    EfficientNet-Lite0's stem and blocks); it is run once on a probe to see where it does.
    """
    x = torch.zeros(1, 1, PROBE_SIZE, PROBE_SIZE)
    last_at = {}  # stride -> (index, channels)
    was_training = encoder.training
    with torch.no_grad():
        for index, layer in enumerate(encoder.eval()):
            x = layer(x)
            last_at[PROBE_SIZE // x.shape[-1]] = (index, x.shape[1])
    encoder.train(was_training)
    missing = [s for s in strides if s not in last_at]
    if missing:
        raise ValueError(f"the encoder has no stage at strides {missing} (it has {sorted(last_at)})")
    return [last_at[s][0] for s in strides], [last_at[s][1] for s in strides]


def conv_bn_relu(in_channels, out_channels, kernel_size):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class LeanColourNet(nn.Module):
    """An encoder with a small FPN-style head: outputs at a quarter of the input's side.

    The encoder's stages at strides 32, 16 and 8 are projected (1 x 1 conv, batch norm, ReLU),
    upsampled to stride 8 and merged by one 3 x 3 convolution; that is upsampled to stride 4,
    merged with the stride-4 stage by a 1 x 1 convolution, and a last 1 x 1 convolution gives
    the outputs. Deep stages say what the object is, the stride-4 one where its edges lie.

    Parameters
    ----------
    encoder : nn.Sequential
        Maps (N, 1, H, W) through stages down to stride 32 (see :func:`stage_taps`).
    n_out : int
        Output channels: 2 for a*b*, or one score per bin.
    """

    def __init__(self, encoder, n_out):
        super().__init__()
        self.encoder = encoder
        self.taps, channels = stage_taps(encoder)
        self.lateral = nn.ModuleList(conv_bn_relu(c, w, 1) for c, w in zip(channels, LATERAL_WIDTHS))
        self.fuse_coarse = conv_bn_relu(sum(LATERAL_WIDTHS[1:]), FUSED_WIDTH, 3)
        self.fuse_fine = conv_bn_relu(FUSED_WIDTH + LATERAL_WIDTHS[0], FUSED_WIDTH, 1)
        self.out = nn.Conv2d(FUSED_WIDTH, n_out, 1)

    def features(self, L):
        """The encoder's outputs at the tapped stages, finest first."""
        taps, x = [], L
        for index, layer in enumerate(self.encoder):
            x = layer(x)
            if index in self.taps:
                taps.append(x)
        return taps

    def forward(self, L):
        fine, *coarse = (project(x) for project, x in zip(self.lateral, self.features(L)))
        side = coarse[0].shape[-2:]
        merged = self.fuse_coarse(torch.cat([upsampled(x, side) for x in coarse], 1))
        return self.out(self.fuse_fine(torch.cat([upsampled(merged, fine.shape[-2:]), fine], 1)))

