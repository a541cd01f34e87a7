"""The Lab colour space: the generator sees L* and predicts a*b*.

Conversions use scikit-image. Networks see L scaled to [-1, 1] (L / 50 - 1) and ab scaled
by 1 / 110, the capstone's normalisation.
"""
import warnings

import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab

L_CENTER = 50.0
AB_SCALE = 110.0


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
