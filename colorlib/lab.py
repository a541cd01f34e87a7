"""The Lab colour space: the generator sees L* and predicts a*b*.

Conversions use scikit-image. Networks see L scaled to [-1, 1] (L / 50 - 1) and ab scaled
by 1 / 110, the capstone's normalisation.
"""
import warnings

import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab
from skimage.color.colorconv import rgb_from_xyz, xyz_from_rgb, xyz_tristimulus_values

L_CENTER = 50.0
AB_SCALE = 110.0
# What a generator's inputs and outputs mean: saved with its weights (colorlib.models.GeneratorSpec).
NORMALISATION = f"L*/{L_CENTER:g} - 1, a*b*/{AB_SCALE:g}"
# Linear sRGB counted as in gamut. Lab white gives 1.00008 with scikit-image's constants, and greys
# must fit; clipping 2e-4 at the top moves L* by < 0.01 (near black 1e-6 would already move it 0.001).
LINEAR_RANGE = (-1e-6, 1.0 + 2e-4)
WHITE = xyz_tristimulus_values(illuminant="D65", observer="2")  # scikit-image's Lab reference white


def rgb_to_lab(rgb):
    """Convert an RGB image to normalised L and ab arrays.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3)
        uint8 in [0, 255] or float in [0, 1].

    Returns
    -------
    L : ndarray, shape (1, H, W), float32
        L* / 50 - 1, in [-1, 1].
    ab : ndarray, shape (2, H, W), float32
        a*b* / 110, roughly in [-1, 1].
    """
    lab = rgb2lab(np.asarray(rgb)).astype(np.float32)
    L = lab[..., :1] / L_CENTER - 1.0
    ab = lab[..., 1:] / AB_SCALE
    return L.transpose(2, 0, 1), ab.transpose(2, 0, 1)


def denormalize(L, ab):
    """Return Lab in natural units, shape (..., H, W, 3), from normalised (..., 1|2, H, W)."""
    L = np.asarray(L, dtype=np.float64)
    ab = np.asarray(ab, dtype=np.float64)
    lab = np.concatenate([(L + 1.0) * L_CENTER, ab * AB_SCALE], axis=-3)
    return np.moveaxis(lab, -3, -1)


# Photos are held in memory as one byte per channel: code = round(127 x normalised value) + 128.
# Zero (grey, mid lightness) and L* 0 and 100 are exact; a step is 0.39 L* and 0.87 a*b* units,
# so a value moves by at most half of it (0.2 L*, 0.43 a*b*), below any colour difference one can
# see. Every sRGB colour fits: a*b* span [-108, 98], the codes [-110.9, 110].
LAB8_SCALE = 127.0
LAB8_ZERO = 128


def quantise_lab(lab):
    """Normalised Lab (any float tensor, e.g. (3, H, W)) as 8-bit codes, uint8 of the same shape.

    See :func:`dequantise_lab` for the way back; values past the codes' range are clipped.
    """
    if not lab.is_floating_point():
        raise TypeError(f"quantise_lab takes normalised Lab as a float tensor, got {lab.dtype}")
    return (lab.float() * LAB8_SCALE).round_().add_(LAB8_ZERO).clamp_(0, 255).to(torch.uint8)


def dequantise_lab(codes, dtype=torch.float32):
    """Normalised Lab from :func:`quantise_lab`'s uint8 codes, as ``dtype`` (float32 unless asked)."""
    if codes.dtype != torch.uint8:
        raise TypeError(f"dequantise_lab takes uint8 Lab codes (colorlib.lab.quantise_lab), got {codes.dtype}")
    return codes.to(dtype).sub_(LAB8_ZERO).div_(LAB8_SCALE)

def lab_to_rgb(L, ab):
    """Rebuild RGB images from normalised L and ab.

    Parameters
    ----------
    L : Tensor or ndarray, shape (N, 1, H, W) or (1, H, W)
    ab : Tensor or ndarray, shape (N, 2, H, W) or (2, H, W)

    Returns
    -------
    ndarray, shape (N, H, W, 3) or (H, W, 3), float64 in [0, 1]
    """
    if isinstance(L, torch.Tensor):
        L = L.detach().float().cpu().numpy()
    if isinstance(ab, torch.Tensor):
        ab = ab.detach().float().cpu().numpy()
    lab = denormalize(L, ab)
    if lab.ndim == 3:
        return lab_to_srgb(lab)
    return np.stack([lab_to_srgb(image) for image in lab])


def lab_to_srgb(lab):
    """scikit-image's ``lab2rgb`` of one natural-unit Lab image, out-of-gamut colours clipped quietly.

    Predicted ab can fall outside the sRGB gamut; clipping them is the intended result, so the
    warning scikit-image gives for it is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Conversion from CIE-LAB", UserWarning)
        return lab2rgb(lab)


def lightness(rgb):
    """The L* channel (0-100) of an RGB float image."""
    return rgb2lab(np.clip(rgb, 0.0, 1.0))[..., 0]


def scaled_channels(lab):
    """Scale natural Lab to [0, 1] per channel for display: (lab + [0, 128, 128]) / [100, 255, 255]."""
    return (np.asarray(lab) + np.array([0.0, 128.0, 128.0])) / np.array([100.0, 255.0, 255.0])


def describe_channels(lab):
    """One line per channel of a natural-unit Lab image, as the capstone printed them.

    Example: ``L : min=2.8592, max=100.0000``.
    """
    return "\n".join(
        f"{name} : min={lab[..., i].min():.4f}, max={lab[..., i].max():.4f}" for i, name in enumerate("Lab")
    )


def in_gamut(lab):
    """True where a natural-unit Lab colour (..., 3) is an sRGB colour, so needs no clipping.

    The CIE formulas of scikit-image's ``lab2xyz``, without its clipping of z, then its XYZ to
    linear sRGB matrix: a colour is in gamut when its linear R, G and B lie in [0, 1]. In float32,
    a channel at a time: this runs at every bisection step of :func:`fit_to_gamut`.
    """
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + np.float32(16.0)) / np.float32(116.0)
    white = WHITE.astype(np.float32)  # a float64 factor would turn every product below into float64
    xyz = [xyz_from_f(fy + lab[..., 1] / np.float32(500.0)) * white[0], xyz_from_f(fy),
           xyz_from_f(fy - lab[..., 2] / np.float32(200.0)) * white[2]]
    inside = np.ones(lab.shape[:-1], dtype=bool)
    for row in rgb_from_xyz.astype(np.float32):
        linear = row[0] * xyz[0]
        linear += row[1] * xyz[1]
        linear += row[2] * xyz[2]
        inside &= linear >= LINEAR_RANGE[0]
        inside &= linear <= LINEAR_RANGE[1]
    return inside


def xyz_from_f(f):
    """The inverse of CIE Lab's f: a cube above 6/29, a line below."""
    f = np.asarray(f)
    cube = f * f * f
    np.copyto(cube, (f - 4.0 / 29.0) * (3.0 * (6.0 / 29.0) ** 2), where=f <= 6.0 / 29.0, casting="same_kind")
    return cube


def fit_to_gamut(lab, steps=12):
    """Shrink the chroma of out-of-gamut colours until they fit, keeping L* and hue.

    Clipping R, G and B (what ``lab2rgb`` does) changes the lightness of a bright or dark pixel
    given a strong colour; shrinking a*b* towards grey instead keeps every pixel's L*, hence the
    photo's detail. A bisection on the scale of a*b*, on the out-of-gamut pixels only.

    Parameters
    ----------
    lab : ndarray, shape (..., 3)
        Natural units, L* in [0, 100].
    steps : int
        Bisection steps: the chroma found is within 2**-steps of the largest that fits.
    """
    shape = np.shape(lab)
    lab = np.array(lab, dtype=np.result_type(lab, np.float32)).reshape(-1, 3)  # float32 stays float32
    out = np.flatnonzero(~in_gamut(lab))
    low, high = np.zeros(len(out)), np.ones(len(out))  # scales known to fit / not to fit
    for _ in range(steps):
        middle = (low + high) / 2
        fits = in_gamut(np.column_stack([lab[out, :1], lab[out, 1:] * middle[:, None]]))
        low, high = np.where(fits, middle, low), np.where(fits, high, middle)
    lab[out, 1:] *= low[:, None]
    return lab.reshape(shape)


# -- Full-resolution conversions in float32: scikit-image's formulas and constants, a band of rows at a time --
# rgb2lab and lab2rgb work in float64 with several full-size temporaries (about 150 bytes per pixel);
# colorize converts photos of tens of megapixels, so it uses these, which agree with them to float32 rounding.

# scikit-image's sRGB decoding curve (rgb2xyz) for each 8-bit value: a table look-up instead of a power.
LINEAR_OF_8BIT = np.where(np.arange(256) / 255.0 > 0.04045, ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4,
                          np.arange(256) / 255.0 / 12.92).astype(np.float32)


def lightness8(rgb):
    """L* (0-100) of 8-bit RGB, as scikit-image's ``rgb2lab`` computes it, in float32.

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), uint8

    Returns
    -------
    ndarray, shape (...), float32
    """
    weights = xyz_from_rgb[1].astype(np.float32)  # Y of linear R, G, B; the white's Y is 1
    y = LINEAR_OF_8BIT[rgb[..., 0]] * weights[0]
    y += LINEAR_OF_8BIT[rgb[..., 1]] * weights[1]
    y += LINEAR_OF_8BIT[rgb[..., 2]] * weights[2]
    f = np.cbrt(y)
    np.copyto(f, np.float32(7.787) * y + np.float32(16.0 / 116.0), where=y <= np.float32(0.008856))
    f *= np.float32(116.0)
    f -= np.float32(16.0)
    return f


def lab_to_rgb8(lab):
    """Natural-unit Lab as 8-bit sRGB, as ``to_uint8(lab2rgb(lab))`` up to rounding, in float32.

    scikit-image's ``lab2xyz`` (negative z set to 0) and ``xyz2rgb`` (its matrix, gamma and
    clipping to [0, 1]), then rounding to 8 bits. Powers are taken as exp(k log x): five times
    faster than numpy's float32 power, as exact to 8 bits.

    Parameters
    ----------
    lab : ndarray, shape (..., 3)

    Returns
    -------
    ndarray, shape (..., 3), uint8
    """
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + np.float32(16.0)) / np.float32(116.0)
    f = (fy + lab[..., 1] / np.float32(500.0), fy, np.maximum(fy - lab[..., 2] / np.float32(200.0), 0))
    xyz = [_skimage_xyz_from_f(value) * np.float32(white) for value, white in zip(f, WHITE)]
    out = np.empty(lab.shape, dtype=np.uint8)
    with np.errstate(divide="ignore"):  # log(0) = -inf, whose exp is the 0 wanted
        for channel, row in enumerate(rgb_from_xyz.astype(np.float32)):
            linear = row[0] * xyz[0]
            linear += row[1] * xyz[1]
            linear += row[2] * xyz[2]
            encoded = np.log(np.maximum(linear, 0))
            encoded *= np.float32(1 / 2.4)
            np.exp(encoded, out=encoded)
            encoded *= np.float32(1.055)
            encoded -= np.float32(0.055)
            np.copyto(encoded, np.float32(12.92) * linear, where=linear <= np.float32(0.0031308))
            np.clip(encoded, 0, 1, out=encoded)
            encoded *= np.float32(255)
            out[..., channel] = np.rint(encoded, out=encoded)
    return out


def _skimage_xyz_from_f(f):
    """scikit-image's inverse of Lab's f (``lab2xyz``), with its rounded constants."""
    cube = f * f * f
    np.copyto(cube, (f - np.float32(16.0 / 116.0)) / np.float32(7.787), where=f <= np.float32(0.2068966))
    return cube
