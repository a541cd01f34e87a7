"""Contrast preprocessing compared in notebook 02: stretching, histogram and adaptive equalisation.

The operations act on the L* channel alone, the generator's input, scaled to [0, 1]; they are
measured on that channel, and the photo's own a*b* are put back only to show each one in colour.
"""
import numpy as np
from skimage import exposure
from skimage.color import rgb2lab

from colorlib.lab import lab_to_srgb


def lower_contrast(lightness01, factor=0.4):
    """Squeeze intensities towards mid-grey, simulating a flat, low-contrast photo."""
    return 0.5 + (np.asarray(lightness01, dtype=np.float64) - 0.5) * factor


def stretch_contrast(lightness01, percentiles=(2, 98)):
    """Linearly map the given intensity percentiles to [0, 1], clipping the tails."""
    low, high = np.percentile(lightness01, percentiles)
    return exposure.rescale_intensity(lightness01, in_range=(low, high), out_range=(0.0, 1.0))


def equalize_histogram(lightness01):
    """Global histogram equalisation: a flat intensity histogram over the whole image."""
    return exposure.equalize_hist(lightness01)


def equalize_adaptive(lightness01, clip_limit=0.03):
    """Contrast-limited adaptive histogram equalisation (CLAHE), tile by tile."""
    return exposure.equalize_adapthist(lightness01, clip_limit=clip_limit)


def lightness_variants(rgb, factor=0.4):
    """The L* (0-100) of the original, a low-contrast copy, and the three remedies applied to that copy.

    This is the channel a generator would be given, measured before any colour is put back (putting
    a*b* back and clipping to the screen's gamut moves L* again).

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), float in [0, 1]
    factor : float
        Contrast left in the low-contrast copy.

    Returns
    -------
    dict of ndarray
        {name: L* of shape (H, W)}.
    """
    original = rgb2lab(rgb)[..., 0] / 100.0
    flat = lower_contrast(original, factor)
    lightness = {
        "original": original,
        "low contrast": flat,
        "contrast stretching": stretch_contrast(flat),
        "histogram equalisation": equalize_histogram(flat),
        "adaptive equalisation": equalize_adaptive(flat),
    }
    return {name: np.clip(L, 0.0, 1.0) * 100.0 for name, L in lightness.items()}


def preprocessing_variants(rgb, factor=0.4):
    """Each of :func:`lightness_variants` shown in colour: its L* with the photo's own a*b*.

    Returns
    -------
    dict of ndarray
        {name: RGB image, float in [0, 1]}.
    """
    lab = rgb2lab(rgb)
    return {name: _with_lightness(lab, L) for name, L in lightness_variants(rgb, factor).items()}


def grey_with_lightness(L):
    """A grey RGB image of exactly this L* (0-100): grey is inside the gamut, so nothing is clipped."""
    return _with_lightness(np.zeros((*np.shape(L), 3)), L)


def _with_lightness(lab, L):
    lab = lab.copy()
    lab[..., 0] = L
    return np.clip(lab_to_srgb(lab), 0.0, 1.0)


def histogram_peak(L, bins=64):
    """The L* (0-100) at the centre of the fullest bin of L*'s histogram: where most pixels lie.

    The bins are those of notebook 02's histograms (``bins`` equal bins over 0-100).
    """
    counts, edges = np.histogram(np.asarray(L).ravel(), bins=bins, range=(0.0, 100.0))
    top = int(np.argmax(counts))
    return float((edges[top] + edges[top + 1]) / 2)


def lightness_summary(lightness):
    """Per variant: mean, standard deviation, 1st-99th percentile span and main peak of its L*.

    Also the share of pixels (in %) pushed to the ends, L* below 1 or above 99, which shows as a
    washed-out or crushed photo.

    Parameters
    ----------
    lightness : dict of ndarray
        {name: L* (0-100)}, from :func:`lightness_variants`.
    """
    summary = {}
    for name, L in lightness.items():
        p1, p99 = np.percentile(L, [1, 99])
        summary[name] = {"mean": float(L.mean()), "std": float(L.std()), "p1-p99 span": float(p99 - p1),
                         "main peak": histogram_peak(L), "% at the ends": float(100 * np.mean((L < 1) | (L > 99)))}
    return summary
