"""Scoring colorizations: the capstone's SSIM, colour-aware metrics, baselines and their intervals.

Every metric compares an image rebuilt from L + predicted ab with the one rebuilt from L + true
ab, image by image; summaries add bootstrap confidence intervals and differences from a baseline.
"""
import numpy as np
import torch
from skimage.color import deltaE_ciede2000

from colorlib.lab import AB_SCALE, denormalize, lab_to_rgb
from colorlib.ssim import ssim_batch
from colorlib.statistics import bootstrap_ci, paired_bootstrap_ci

# SSIM on ab uses the span that the normalisation maps to [-1, 1]: 2 in normalised units,
# 2 * 110 = 220 in natural a*b* units (SSIM does not change when values and range scale together).
AB_DATA_RANGE = 2.0
AUC_MAX_ERROR = 150  # Zhang, Isola and Efros (2016) sweep the ab error threshold from 0 to 150
PSNR_MAX = 100.0  # dB: identical images would score infinity, which no mean or interval survives
# Right hue: a pixel whose true chroma is at least COLOURED_CHROMA is clearly coloured; it is painted
# right when the prediction's chroma is at least PAINTED_CHROMA (visibly not grey) and its hue
# within HUE_TOLERANCE degrees of the truth's (red is not orange-red's neighbour at 30 degrees).
COLOURED_CHROMA = 15.0
PAINTED_CHROMA = 5.0
HUE_TOLERANCE = 30.0

# Which way each metric improves. None: no better direction; colourfulness describes a prediction,
# and its gap to the truth's is best at zero (negative: duller than the truth, positive: more vivid).
HIGHER_IS_BETTER = {
    "ssim": True,
    "ssim_fixed": True,
    "ssim_ab": True,
    "psnr": True,
    "ciede2000": False,
    "auc": True,
    "right_hue": True,
    "colourfulness": None,
    "colourfulness_gap": None,
}
METRIC_NAMES = {
    "ssim": "SSIM (capstone)",
    "ssim_fixed": "SSIM (range 1)",
    "ssim_ab": "SSIM (ab)",
    "psnr": "PSNR (dB)",
    "ciede2000": "CIEDE2000",
    "auc": "AuC",
    "right_hue": "right hue",
    "colourfulness": "colourfulness",
    "colourfulness_gap": "colourfulness gap",
}


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


def psnr(fake_rgb, real_rgb):
    """Peak signal-to-noise ratio in dB of RGB images in [0, 1], per image (higher is better).

    Parameters
    ----------
    fake_rgb, real_rgb : ndarray, shape (..., H, W, 3)

    Returns
    -------
    ndarray, shape (...)
        10 log10(1 / MSE), capped at ``PSNR_MAX`` for identical images.
    """
    mse = np.mean((np.asarray(fake_rgb, np.float64) - real_rgb) ** 2, axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        return np.minimum(10 * np.log10(1.0 / mse), PSNR_MAX)


def ab_auc(fake_ab, real_ab):
    """Area under the cumulative ab-error curve, per image (higher is better).

    Zhang, Isola and Efros, "Colorful Image Colorization" (2016): the error of a pixel is the
    Euclidean distance between predicted and true a*b* in natural units; the curve is the share
    of pixels within t of the truth for t = 0, 1, ..., 150; its area (trapezoids) is divided by
    150, so 1 means every pixel exact and 0 every pixel more than 150 away.

    Parameters
    ----------
    fake_ab, real_ab : array, shape (..., 2, H, W), normalised

    Returns
    -------
    ndarray, shape (...)
    """
    error = AB_SCALE * np.linalg.norm(np.asarray(fake_ab, np.float64) - real_ab, axis=-3)
    within = np.stack([(error <= t).mean(axis=(-2, -1)) for t in range(AUC_MAX_ERROR + 1)], axis=-1)
    # Unit steps between thresholds: the trapezoids' area is the sum less half of both ends.
    area = within.sum(axis=-1) - (within[..., 0] + within[..., -1]) / 2
    return area / AUC_MAX_ERROR


def right_hue(fake_ab, real_ab):
    """Share of each image's clearly coloured pixels painted in about the right hue (higher is better).

    Colourfulness says how much colour a prediction has, not whether it is the right colour;
    this says how often it is. Of the pixels whose true chroma (the length of their a*b*) is at
    least ``COLOURED_CHROMA``, the share that the prediction paints with a chroma of at least
    ``PAINTED_CHROMA`` and a hue angle within ``HUE_TOLERANCE`` degrees of the truth's. Grey scores
    0, and only colour of the right hue raises it. A photo with no clearly coloured pixel scores 0
    for every prediction (a tie, which leaves paired differences alone).

    Parameters
    ----------
    fake_ab, real_ab : array, shape (..., 2, H, W), normalised

    Returns
    -------
    ndarray, shape (...)
    """
    # a*b* as complex numbers a + ib: chroma is the modulus, the hue gap the angle of fake / real
    fake, real = (AB_SCALE * (ab[..., 0, :, :] + 1j * ab[..., 1, :, :])
                  for ab in (np.asarray(fake_ab, np.float64), np.asarray(real_ab, np.float64)))
    hue_gap = np.angle(fake * np.conj(real), deg=True)
    coloured = np.abs(real) >= COLOURED_CHROMA
    right = coloured & (np.abs(fake) >= PAINTED_CHROMA) & (np.abs(hue_gap) <= HUE_TOLERANCE)
    return right.sum(axis=(-2, -1)) / np.maximum(coloured.sum(axis=(-2, -1)), 1)


def colourfulness(rgb):
    """Hasler and Suesstrunk's (2003) colourfulness of RGB images in [0, 1], per image.

    On 0-255 values, with rg = R - G and yb = (R + G) / 2 - B over the pixels:
    C = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2). A grey image scores 0.

    Parameters
    ----------
    rgb : ndarray, shape (..., H, W, 3)

    Returns
    -------
    ndarray, shape (...)
    """
    red, green, blue = np.moveaxis(255.0 * np.asarray(rgb, np.float64), -1, 0)
    rg, yb = red - green, (red + green) / 2 - blue
    pixels = (-2, -1)
    spread = np.hypot(rg.std(axis=pixels), yb.std(axis=pixels))
    offset = np.hypot(rg.mean(axis=pixels), yb.mean(axis=pixels))
    return spread + 0.3 * offset


def score_images(L, fake_ab, real_ab):
    """Per-image scores of a batch of predictions.

    Parameters
    ----------
    L : Tensor, shape (N, 1, H, W)
    fake_ab, real_ab : Tensor, shape (N, 2, H, W)

    Returns
    -------
    dict of ndarray, shape (N,)
        ``"ssim"``: the capstone's SSIM (RGB, data range fake.max() - fake.min());
        ``"ssim_fixed"``: SSIM on RGB with data range 1; ``"ssim_ab"``: SSIM on the ab
        channels, data range 220 in natural units; ``"psnr"`` on RGB (:func:`psnr`);
        ``"ciede2000"``: mean CIEDE2000; ``"auc"``: :func:`ab_auc`; ``"right_hue"``: :func:`right_hue`;
        ``"colourfulness"`` of the prediction and ``"colourfulness_gap"``, prediction minus truth (:func:`colourfulness`).
        ``HIGHER_IS_BETTER`` says which way each improves.
    """
    L, fake_ab, real_ab = (_numpy(t) for t in (L, fake_ab, real_ab))
    fake_rgb, real_rgb = lab_to_rgb(L, fake_ab), lab_to_rgb(L, real_ab)
    fake_chw, real_chw = (torch.from_numpy(rgb).permute(0, 3, 1, 2) for rgb in (fake_rgb, real_rgb))
    capstone_range = fake_chw.amax(dim=(1, 2, 3)) - fake_chw.amin(dim=(1, 2, 3))
    fake_colourfulness = colourfulness(fake_rgb)
    return {
        "ssim": ssim_batch(fake_chw, real_chw, capstone_range).numpy(),
        "ssim_fixed": ssim_batch(fake_chw, real_chw, 1.0).numpy(),
        "ssim_ab": ssim_batch(torch.from_numpy(fake_ab), torch.from_numpy(real_ab), AB_DATA_RANGE).numpy(),
        "psnr": psnr(fake_rgb, real_rgb),
        "ciede2000": np.array([mean_ciede2000(*image) for image in zip(L, fake_ab, real_ab)]),
        "auc": ab_auc(fake_ab, real_ab),
        "right_hue": right_hue(fake_ab, real_ab),
        "colourfulness": fake_colourfulness,
        "colourfulness_gap": fake_colourfulness - colourfulness(real_rgb),
    }


def grey_ab(real_ab):
    """The grey baseline's prediction: ab = 0 everywhere (no colour at all)."""
    return torch.zeros_like(torch.as_tensor(real_ab))


def _numpy(t):
    return t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def summarize_with_ci(scores_by_model, baseline="grey", n_resamples=2000, confidence=0.95, seed=0):
    """Mean and bootstrap interval of every metric per model, and each model's gain on a baseline.

    Parameters
    ----------
    scores_by_model : dict
        {model: {metric: per-image ndarray}}, every model scored on the same images.
    baseline : str
        The model the others are compared with.
    n_resamples, confidence, seed
        As in :func:`colorlib.statistics.bootstrap_ci`.

    Returns
    -------
    dict
        {model: {metric: row}}. Every row has ``"mean"``, ``"low"`` and ``"high"``; the rows of
        models other than the baseline also ``"difference"``, ``"difference_low"`` and
        ``"difference_high"`` (model minus baseline, paired bootstrap) and ``"beats_baseline"``:
        whether that interval excludes zero on the better side (None where
        ``HIGHER_IS_BETTER`` gives the metric no direction).
    """
    if baseline not in scores_by_model:
        raise ValueError(f"baseline {baseline!r} is not among the models {list(scores_by_model)}")
    base = scores_by_model[baseline]
    summary = {}
    for model, scores in scores_by_model.items():
        summary[model] = {}
        for metric, values in scores.items():
            row = dict(zip(("mean", "low", "high"), bootstrap_ci(values, n_resamples, confidence, seed)))
            if model != baseline:
                difference = paired_bootstrap_ci(values, base[metric], n_resamples, confidence, seed)
                row.update(zip(("difference", "difference_low", "difference_high"), difference))
                judged = verdict_of(metric, row)
                row["beats_baseline"] = None if judged is None else judged == "better"
            summary[model][metric] = row
    return summary


def verdict_of(metric, row):
    """Where a row's difference interval lies: "better", "worse", "unclear"; None without a direction."""
    if HIGHER_IS_BETTER.get(metric) is None:
        return None
    if row["difference_low"] > 0:
        side = 1
    elif row["difference_high"] < 0:
        side = -1
    else:
        return "unclear"
    return "better" if (side > 0) == HIGHER_IS_BETTER[metric] else "worse"


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


# Scales that say what a number means. Hasler and Suesstrunk (2003) anchor their colourfulness
# metric with observers' words; a CIEDE2000 difference of about 1 to 2 is one just-noticeable one.
COLOURFULNESS_SCALE = ((0, "not colourful"), (15, "slightly colourful"), (33, "moderately colourful"),
                       (45, "averagely colourful"), (59, "quite colourful"), (82, "highly colourful"),
                       (109, "extremely colourful"))
CIEDE2000_JND = (1.0, 2.0)


def colourfulness_word(value):
    """The Hasler-Suesstrunk word whose anchor is closest to a colourfulness value.

    Parameters
    ----------
    value : float
        Colourfulness (:func:`colourfulness`); 0 is grey.

    Returns
    -------
    str
        E.g. ``"moderately colourful"`` for 30.
    """
    return min(COLOURFULNESS_SCALE, key=lambda anchor: abs(anchor[0] - value))[1]


def ciede2000_jnd(difference):
    """A CIEDE2000 difference in just-noticeable differences (one is about 1 to 2), in words.

    Parameters
    ----------
    difference : float
        A difference of mean CIEDE2000 values (its sign is ignored).

    Returns
    -------
    str
    """
    size = abs(difference)
    low, high = CIEDE2000_JND
    if size < low:
        return "less than one just-noticeable difference"
    if size <= high:
        return "about one just-noticeable difference"
    return f"about {size / high:.0f} to {size / low:.0f} just-noticeable differences"


def win_rates(scores, baseline="grey", metrics=("ciede2000", "auc")):
    """The share of images on which each model scores strictly better than the baseline.

    Parameters
    ----------
    scores : dict
        {model: {metric: per-image ndarray}}, every model scored on the same images.
    baseline : str
    metrics : sequence of str
        Metrics with a direction in ``HIGHER_IS_BETTER``.

    Returns
    -------
    dict
        {model: {metric: share in [0, 1]}} for every model but the baseline.
    """
    rates = {}
    for model, rows in scores.items():
        if model == baseline:
            continue
        rates[model] = {}
        for metric in metrics:
            gain = np.asarray(rows[metric], dtype=float) - np.asarray(scores[baseline][metric], dtype=float)
            rates[model][metric] = float(np.mean(gain > 0 if HIGHER_IS_BETTER[metric] else gain < 0))
    return rates
