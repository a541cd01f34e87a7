"""Scoring colorizations: the capstone's SSIM, a colour-aware error, and the grey baseline.

Everything here compares an RGB image rebuilt from L + predicted ab with the one rebuilt from
L + true ab, image by image.
"""
import numpy as np
import torch
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

from colorlib.lab import denormalize, lab_to_rgb


def ssim_as_capstone(fake_rgb, real_rgb):
    """SSIM exactly as the capstone computed it.

    scikit-image's ``structural_similarity`` over the colour channels, with
    ``data_range = fake.max() - fake.min()`` (the capstone's choice; ``channel_axis=2``
    replaces the removed ``multichannel=True``).

    Parameters
    ----------
    fake_rgb, real_rgb : ndarray, shape (H, W, 3), float in [0, 1]
    """
    data_range = fake_rgb.max() - fake_rgb.min()
    return float(structural_similarity(fake_rgb, real_rgb, data_range=data_range, channel_axis=2))


def mean_ciede2000(L, fake_ab, real_ab):
    """Mean CIEDE2000 colour difference between L + fake ab and L + true ab (lower is better).

    Parameters
    ----------
    L : array, shape (1, H, W), normalised
    fake_ab, real_ab : array, shape (2, H, W), normalised
    """
    fake = denormalize(L, fake_ab)
    real = denormalize(L, real_ab)
    return float(deltaE_ciede2000(real, fake).mean())


def score_images(L, fake_ab, real_ab):
    """Per-image scores of a batch of predictions.

    Parameters
    ----------
    L : Tensor, shape (N, 1, H, W)
    fake_ab, real_ab : Tensor, shape (N, 2, H, W)

    Returns
    -------
    dict of ndarray, shape (N,)
        ``"ssim"`` (the capstone's) and ``"ciede2000"``.
    """
    L, fake_ab, real_ab = (_numpy(t) for t in (L, fake_ab, real_ab))
    fake_rgb, real_rgb = lab_to_rgb(L, fake_ab), lab_to_rgb(L, real_ab)
    ssim = [ssim_as_capstone(f, r) for f, r in zip(fake_rgb, real_rgb)]
    ciede = [mean_ciede2000(l, f, r) for l, f, r in zip(L, fake_ab, real_ab)]
    return {"ssim": np.array(ssim), "ciede2000": np.array(ciede)}


def grey_ab(real_ab):
    """The grey baseline's prediction: ab = 0 everywhere (no colour at all)."""
    return torch.zeros_like(torch.as_tensor(real_ab))


def summarize(scores):
    """Mean of each per-image score: {"ssim": ..., "ciede2000": ...}."""
    return {name: float(np.mean(values)) for name, values in scores.items()}


def _numpy(t):
    return t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def extremes(values, k=4):
    """Indices of the k highest and the k lowest values, best first and worst first."""
    order = np.argsort(values, kind="stable")
    return order[::-1][:k], order[:k]


def disagreements(scores, k=4):
    """Images on which SSIM and colour error disagree.

    Returns
    -------
    low_ssim_close_colour : ndarray
        Lowest-SSIM images among those whose CIEDE2000 is below the median.
    high_ssim_wrong_colour : ndarray
        Highest-SSIM images among those whose CIEDE2000 is above the median.
    """
    ssim, ciede = scores["ssim"], scores["ciede2000"]
    close = np.flatnonzero(ciede <= np.median(ciede))
    wrong = np.flatnonzero(ciede > np.median(ciede))
    return close[np.argsort(ssim[close], kind="stable")][:k], wrong[np.argsort(-ssim[wrong], kind="stable")][:k]


def format_table(summary, digits=4):
    """A plain-text table of {row: {column: value}}."""
    columns = list(next(iter(summary.values())))
    width = max(len(name) for name in summary) + 2
    lines = [" " * width + "".join(f"{c:>12}" for c in columns)]
    for name, row in summary.items():
        lines.append(f"{name:<{width}}" + "".join(f"{row[c]:>12.{digits}f}" for c in columns))
    return "\n".join(lines)


def describe_results(summary, capstone_ssim=0.87):
    """Sentences comparing each model with the grey baseline, written from the numbers.

    Parameters
    ----------
    summary : dict
        {model: {"ssim": mean, "ciede2000": mean}}, including "grey".
    capstone_ssim : float
        The SSIM the capstone published, quoted for comparison.
    """
    grey = summary["grey"]
    lines = [
        f"- Predicting no colour at all (grey) scores a mean SSIM of {grey['ssim']:.3f} "
        f"({'above' if grey['ssim'] > capstone_ssim else 'below'} the capstone's published "
        f"{capstone_ssim}) with a mean CIEDE2000 of {grey['ciede2000']:.2f}."
    ]
    for name, row in summary.items():
        if name == "grey":
            continue
        ssim_word = "higher" if row["ssim"] > grey["ssim"] else "lower"
        colour_word = "closer to" if row["ciede2000"] < grey["ciede2000"] else "further from"
        lines.append(
            f"- The {name} generator: SSIM {row['ssim']:.3f}, {ssim_word} than grey; "
            f"CIEDE2000 {row['ciede2000']:.2f}, so its colours are {colour_word} the truth than no colour at all."
        )
    return "\n".join(lines)
