"""Running a trained generator: predicted ab for a batch of L, in evaluation mode."""
import torch
import torch.nn.functional as F

from colorlib.models import GeneratorSpec
from colorlib.runtime import autocast


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
