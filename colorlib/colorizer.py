"""Colorizing photos at full resolution: colour predicted at the model's size, lightness kept from the photo.

The generator sees the whole photo squeezed to its training square; the predicted a*b* are resized to the
photo's size and joined to the photo's own L*, so the result is as sharp as the photo (DeOldify's practice).
"""
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from colorlib.cache import lab_tensor
from colorlib.checkpoints import (
    GAN_FILE,
    PRETRAINED_FILE,
    CheckpointError,
    check_checkpoint,
    check_finite_weights,
    generator_spec,
    load_checkpoint,
    load_generator,
    save_checkpoint,
)
from colorlib.images import MemoryBudget, Picture, available_memory, read_picture, split_alpha
from colorlib.lab import AB_SCALE, fit_to_gamut, lab_to_rgb, lab_to_rgb8, lightness8
from colorlib.predict import check_spec, predict_ab, square_bytes
from colorlib.sources import list_images, package_photo_paths

EXPORT_FORMAT = "colorlib-generator"
EXPORT_VERSION = 2  # 2 saves the generator's spec; 1 saved its chroma scale beside the config
EXPORT_VERSIONS = (1, 2)  # the versions this colorlib reads
EXPORT_FILE = "colorizer.pt"
EXPECTED = (f"a colorlib training checkpoint ({GAN_FILE}, {PRETRAINED_FILE}) "
            f"or a generator export ({EXPORT_FORMAT!r} version {' or '.join(map(str, EXPORT_VERSIONS))})")
# Rounding R, G and B to 8 bits moves L* by at most 0.25 (measured on 2 million colours across
# the sRGB cube); the rest of the bound covers the float32 L and the gamut test's slack.
LIGHTNESS_TOLERANCE = 0.5
# Pixels converted at a time at full resolution: their float temporaries take a few tens of MB.
BAND_PIXELS = 1 << 18
# Values of the square's a*b* widened to the photo's width at a time: 2 planes of float32, 8 MB
# (some 32 MB with the temporaries of resampling).
WIDE_PIXELS = 1 << 20
# Memory colorize needs per pixel of a photo, above the loaded generator: make bench measures it
# (6000 x 4000 JPEG: about 12 bytes a pixel); the bound keeps room for PNG decoding and alpha.
BYTES_PER_PIXEL = 40
# The a*b* widened to a chunk of columns and the bands' float temporaries, with room.
WORKING_BYTES = 64e6


def read_checkpoint(path, mmap=False):
    """Load a training checkpoint or a generator export (plain data, ``weights_only``).

    Parameters
    ----------
    path : path-like
    mmap : bool
        Map the tensors instead of reading them: enough to look at the keys.

    Returns
    -------
    dict
        With at least "generator" (a state_dict) and "config" (a dict of Config fields), and a
        valid generator spec (:func:`colorlib.checkpoints.generator_spec`).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not one of the two kinds, naming the file and what was expected.
    """
    path = Path(path)
    state = load_checkpoint(path, mmap=mmap, expected=EXPECTED)  # the one loader that checks the form
    if not ("generator" in state and "config" in state):
        raise CheckpointError(f"{path} holds no generator and config; expected {EXPECTED}")
    version = state.get("version")
    if "format" in state and (state["format"] != EXPORT_FORMAT or type(version) is not int
                              or version not in EXPORT_VERSIONS):
        raise CheckpointError(f"{path} is format {state['format']!r} version {version!r}; expected {EXPECTED}")
    if "format" in state and version >= 2 and "spec" not in state:
        raise CheckpointError(f"{path} is an export of version {version} without its generator spec; "
                              f"expected {EXPECTED}")
    check_checkpoint(state, path, ("generator", "config"), EXPECTED)
    generator_spec(state, path)
    return state if mmap else check_finite_weights(state, path)  # mapped: the weights are read, and checked, later


def load_colorizer(path, device="cpu", chroma_scale=None):
    """Rebuild the generator of a training checkpoint or a generator export, in evaluation mode.

    Parameters
    ----------
    path : path-like
    device : str
    chroma_scale : float, optional
        What to scale its predicted a*b* by (:mod:`colorlib.calibration`); None: the export's
        calibrated scale, or 1 for a training checkpoint.

    Returns
    -------
    generator : nn.Module
    spec : colorlib.models.GeneratorSpec
        Its training size (the side of the square it colours best at) and chroma scale:
        :func:`colorize` takes it.
    """
    read_checkpoint(path, mmap=True)  # the form and spec here; load_generator reads the weights once
    generator, spec, _ = load_generator(path, device)
    if chroma_scale is not None:
        spec = spec.replace(chroma_scale=chroma_scale)
    return generator.eval(), spec


def export_generator(checkpoint, out_path, chroma_scale=None):
    """Write the generator of a checkpoint alone: a smaller file to share, loadable with weights_only.

    The export is {"format": "colorlib-generator", "version": 2, "generator", "spec", "config",
    "weights"}; the discriminator and optimiser states of a GAN checkpoint are left behind.

    Parameters
    ----------
    checkpoint : path-like
        A training checkpoint or another export.
    out_path : path-like
    chroma_scale : float, optional
        The calibrated scale of its a*b* (:func:`colorlib.stages.checkpoint_for_run` gives the
        run's); None keeps the checkpoint's (1 for a training checkpoint).

    Returns
    -------
    Path
        ``out_path``.
    """
    state = read_checkpoint(checkpoint)
    spec = generator_spec(state, checkpoint)
    if chroma_scale is not None:
        spec = spec.replace(chroma_scale=chroma_scale)
    save_checkpoint(out_path, format=EXPORT_FORMAT, version=EXPORT_VERSION, generator=state["generator"],
                    spec=spec.asdict(), config=state["config"], weights=state.get("weights", "unknown"))
    return Path(out_path)


def read_photo(image):
    """A photo as an upright (H, W, 3) uint8 array, transparency composited over white.

    Parameters
    ----------
    image : path-like, PIL.Image or ndarray
        Any mode Pillow reads (greyscale, RGBA, palette, CMYK, 16-bit, float); EXIF orientation is
        applied. Arrays are (H, W), (H, W, 3) or (H, W, 4): uint8, uint16, or float in [0, 1].

    Raises
    ------
    ImageRejected
        For a file that cannot be read (see :func:`colorlib.images.read_picture`).
    """
    return read_input(image).composited()


def read_input(image, memory=None):
    """A photo as a :class:`colorlib.images.Picture`: colours, alpha, frames (see :func:`read_photo`).

    ``memory`` (a :class:`colorlib.images.MemoryBudget`) refuses a file too large for it before decoding.
    """
    if isinstance(image, (str, os.PathLike)):
        return read_picture(image, memory=memory)
    if isinstance(image, Image.Image):
        return Picture(*split_alpha(ImageOps.exif_transpose(image)), frames=getattr(image, "n_frames", 1))
    array = np.asarray(image)
    if array.dtype.kind == "f":  # floats in [0, 1], as scikit-image and matplotlib hold them
        array = np.round(np.clip(array, 0.0, 1.0) * 255)
    elif array.dtype == np.uint16:
        array = np.round(array / 257.0)
    return Picture(*split_alpha(Image.fromarray(array.astype(np.uint8))))


def predict_square(rgb, generator, spec):
    """The photo resized to the spec's size x size as in training, and the ab predicted for it.

    Returns
    -------
    L : Tensor, shape (1, 1, size, size)
    ab : Tensor, shape (1, 2, size, size)
        Both normalised (see :mod:`colorlib.lab`), the ab scaled by the spec's chroma scale.
    """
    L = lab_tensor(rgb, spec.size)[None, :1].float()
    return L, predict_ab(generator, L, spec=spec)


def colorize(image, generator, spec, memory=None):
    """Colorize a photo at its full resolution.

    The photo is resized to the spec's size (as in training) for the generator; the predicted a*b*
    are resized bilinearly to the photo's size and joined to the photo's own L*. Out-of-gamut
    colours lose chroma rather than lightness (:func:`fit_to_gamut`), so the result's L* equals
    the photo's up to 8-bit rounding (:data:`LIGHTNESS_TOLERANCE`). A colour photo is taken as
    grey through its L*.

    Only the square and its a*b* are held whole; the full-resolution work is done a band of
    rows at a time (:data:`BAND_PIXELS`) in float32, so a photo needs about
    :data:`BYTES_PER_PIXEL` bytes a pixel, its own 8-bit pixels and the result's included,
    beside what the square takes (:func:`colorize_memory`).

    A transparent photo is composited over white for the generator; the result keeps its
    alpha, and its colours the L* of the photo's own (uncomposited) colours. An animation gives
    its first frame, with a warning.

    Parameters
    ----------
    image : path-like, PIL.Image or ndarray
        See :func:`read_photo`.
    generator : nn.Module
    spec : colorlib.models.GeneratorSpec
        Both from :func:`load_colorizer`. The colours are predicted at the spec's size (the
        training size colours best: ``spec.replace(size=...)`` tries another) and scaled by its
        chroma scale.
    memory : colorlib.images.MemoryBudget, optional
        For a file: the memory allowed, checked before decoding; None: what the machine has
        free now (:func:`colorize_budget`).

    Returns
    -------
    PIL.Image
        RGB, or RGBA for a photo with transparency, the size of the (upright) photo.

    Raises
    ------
    ImageRejected
        For a file that cannot be read, or would need more memory than allowed.
    """
    check_spec(spec)
    if isinstance(image, (str, os.PathLike)) and memory is None:
        memory = colorize_budget(spec)
    picture = read_input(image, memory)
    if picture.frames > 1:
        warnings.warn(f"{image}: an animation of {picture.frames} frames: only the first is colorized",
                      stacklevel=2)
    _, ab = predict_square(picture.composited(), generator, spec)
    ab = ab[0].numpy() * np.float32(AB_SCALE)  # (2, size, size), natural units
    height, width = picture.rgb.shape[:2]
    out = np.empty((height, width, 3 if picture.alpha is None else 4), dtype=np.uint8)
    rows, columns = bilinear_taps(spec.size, height), bilinear_taps(spec.size, width)
    # The a*b* are widened to a chunk of columns at a time: a whole 2,000,000-pixel-wide row
    # would make (2, size, width) floats of gigabytes.
    chunk = max(1, WIDE_PIXELS // spec.size)
    for left in range(0, width, chunk):
        fill_columns(out, picture.rgb, ab, rows, [taps[left:left + chunk] for taps in columns], left)
    if picture.alpha is not None:
        out[..., 3] = picture.alpha
    return Image.fromarray(out)


def fill_columns(out, rgb, ab, rows, columns, left):
    """Fill out's colours in the columns from left that ``columns`` (taps) resample ab to, a band of rows at a time."""
    wide = resample(ab, columns, axis=2)  # (2, size, chunk): at most WIDE_PIXELS
    width = wide.shape[2]
    step = max(1, BAND_PIXELS // width)
    span = slice(left, left + width)

    def fill(top):
        band = slice(top, top + step)
        ab_band = resample(wide, [taps[band] for taps in rows], axis=1)
        lab = np.stack([lightness8(rgb[band, span]), ab_band[0], ab_band[1]], axis=-1)
        out[band, span, :3] = lab_to_rgb8(fit_to_gamut(lab))

    # numpy lets go of the GIL in its loops: bands run on as many threads as torch may use.
    with ThreadPoolExecutor(max_workers=torch.get_num_threads()) as pool:
        list(pool.map(fill, range(0, len(rows[0]), step)))


def bilinear_taps(n_in, n_out):
    """Bilinear resizing from n_in to n_out samples, as torch's (``align_corners=False``).

    Returns
    -------
    low, high : ndarray of int
        The two source samples of each output sample.
    weight : ndarray of float32
        The weight of ``high`` (``low`` has 1 - weight).
    """
    source = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    low = np.minimum(source.astype(np.int64), n_in - 1)
    return low, np.minimum(low + 1, n_in - 1), (source - low).astype(np.float32)


def resample(values, taps, axis):
    """values resized along one axis with :func:`bilinear_taps`' (low, high, weight)."""
    low, high, weight = taps
    shape = [1] * values.ndim
    shape[axis] = len(weight)
    first = np.take(values, low, axis=axis)
    return first + (np.take(values, high, axis=axis) - first) * weight.reshape(shape)


def colorize_memory(width, height, spec):
    """Bytes :func:`colorize` needs for a width x height photo, above the loaded generator.

    Every buffer it allocates: the photo decoded and its result (:data:`BYTES_PER_PIXEL` a pixel),
    the generator's pass over the square (:func:`colorlib.predict.square_bytes`) and the widening and band
    temporaries (:data:`WORKING_BYTES`). A test checks it against the measured peak over shapes
    from 1 x 2,000,000 to a square larger than the photo.
    """
    return colorize_budget(spec, limit=0).need(width, height)


def colorize_budget(spec, limit=None):
    """The memory colorize may use for photos at ``spec``'s square: ``limit`` bytes, else what is free now.

    Returns
    -------
    colorlib.images.MemoryBudget or None
        None when the machine does not say (no check then).
    """
    limit = available_memory() if limit is None else limit  # 0 would mean no check at all
    if limit is None:
        return None
    return MemoryBudget(int(limit), BYTES_PER_PIXEL, "colorize", fixed_bytes=square_bytes(spec) + WORKING_BYTES)


def colorize_at_model_size(image, generator, spec):
    """The generator's output as it comes, at the spec's size, then resized to the photo: the blurry way."""
    rgb = read_photo(image)
    L, ab = predict_square(rgb, generator, spec)
    square = Image.fromarray(to_uint8(lab_to_rgb(L[0], ab[0])))
    return square.resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.BICUBIC)


def to_uint8(rgb):
    """An RGB float image in [0, 1] as uint8, rounded."""
    return np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


# -- Figures and summaries for notebook 06 -------------------------------------------------------

def photo_paths(folder=None):
    """Image files of a folder (recursively), or the photos shipped in packages when None."""
    return package_photo_paths() if folder is None else list_images(folder)


def colorize_photos(paths, generator, spec):
    """{file name: (photo as uint8 RGB, colorized PIL image, RGB)} for each path.

    A transparent photo is shown by its own colours, as is its result: the figures and the
    lightness check compare like with like.
    """
    return {Path(p).name: (read_input(p).rgb, colorize(p, generator, spec).convert("RGB")) for p in paths}
