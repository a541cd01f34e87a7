"""Running a trained generator: predicted ab for a batch of L, in evaluation mode."""
import torch
import torch.nn.functional as F

from colorlib.models import GeneratorSpec
from colorlib.runtime import autocast

# The generator's pass over its square, per pixel of the square (peak resident memory without
# gradients, 512 to 2048 px): the full EfficientNet-Lite0 U-Net took up to 2.9 KB, ResNet18's
# 2.2 KB, Lite0 with the decoder stopped at half the side 0.71 KB and at a quarter 0.35 KB. The
# decoder's share shrinks with the square of the output stride; these bound all four.
SQUARE_ENCODER_BYTES = 300
SQUARE_DECODER_BYTES = 3000


@torch.no_grad()
def predict_ab(generator, L, precision="fp32", batch_size=16, spec=None):
    """Predict normalised ab for normalised L.

    With a ``spec`` (:class:`colorlib.models.GeneratorSpec`), the generator sees L resized to
    the spec's size (the size it was trained at), its ab are resized back to L's size and
    scaled by the spec's ``chroma_scale`` (a calibrated export, see :mod:`colorlib.calibration`):
    colour is smooth, so ab predicted at a low resolution and laid onto the full-resolution L
    lose little. Without one, it sees L as it is and its ab are as it predicts them.

    Parameters
    ----------
    generator : nn.Module
    L : Tensor, shape (N, 1, H, W)
    precision : {"fp32", "bf16"}
    batch_size : int
        Images per forward pass, to bound memory.
    spec : GeneratorSpec, optional

    Returns
    -------
    Tensor, shape (N, 2, H, W), float32, on the CPU
    """
    if spec is not None:
        check_spec(spec)
    device = next(generator.parameters()).device
    size, chroma_scale = (None, 1.0) if spec is None else (spec.size, spec.chroma_scale)
    was_training = generator.training
    generator.eval()
    try:
        chunks = []
        for start in range(0, len(L), batch_size):
            chunk = L[start:start + batch_size].to(device)
            with autocast(device, precision):
                ab = resized(generator(resized(chunk, size)).float(), chunk.shape[-2:])
            chunks.append(chroma_scale * ab.cpu())
        return torch.cat(chunks)
    finally:
        generator.train(was_training)


def check_spec(spec):
    """Refuse anything but a :class:`colorlib.models.GeneratorSpec` (an int size, as colorlib once took)."""
    if not isinstance(spec, GeneratorSpec):
        raise TypeError(f"expected a GeneratorSpec (from colorlib.load_colorizer), got {spec!r}; "
                        "for another square than the training size, pass spec.replace(size=...)")


def resized(images, size):
    """Images resized to size (an int for a square, or (height, width)), bilinearly; None: unchanged."""
    if size is None:
        return images
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == size:
        return images
    return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)


def square_bytes(spec):
    """Bytes the generator's pass over its spec.size square takes (no gradients), above its weights."""
    per_pixel = SQUARE_ENCODER_BYTES + SQUARE_DECODER_BYTES / spec.output_stride**2
    return per_pixel * spec.size**2
