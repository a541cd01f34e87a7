"""Scoring colorizations: the capstone's SSIM, colour-aware metrics, baselines and their intervals.

Every metric compares an image rebuilt from L + predicted ab with the one rebuilt from L + true
ab, image by image; summaries add bootstrap confidence intervals and differences from a baseline.
"""
import numpy as np
import torch
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

from colorlib.lab import AB_SCALE, denormalize, lab_to_rgb
from colorlib.ssim import ssim_batch
from colorlib.statistics import bootstrap_ci, paired_bootstrap_ci

# SSIM on ab uses the span that the normalisation maps to [-1, 1]: 2 in normalised units,
# 2 * 110 = 220 in natural a*b* units (SSIM does not change when values and range scale together).
AB_DATA_RANGE = 2.0
AUC_MAX_ERROR = 150  # Zhang, Isola and Efros (2016) sweep the ab error threshold from 0 to 150
PSNR_MAX = 100.0  # dB: identical images would score infinity, which no mean or interval survives

# Which way each metric improves. None: no better direction; colourfulness describes a prediction,
# and its gap to the truth's is best at zero (negative: duller than the truth, positive: more vivid).
HIGHER_IS_BETTER = {
    "ssim": True,
    "ssim_fixed": True,
    "ssim_ab": True,
    "psnr": True,
    "ciede2000": False,
    "auc": True,
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
    "colourfulness": "colourfulness",
    "colourfulness_gap": "colourfulness gap",
}


def ssim_as_capstone(fake_rgb, real_rgb):
    """SSIM exactly as the capstone computed it.

    scikit-image's ``structural_similarity`` over the colour channels, with
    ``data_range = fake.max() - fake.min()`` (the capstone's choice; ``channel_axis=2``
    replaces the removed ``multichannel=True``). :func:`score_images` computes the same
    number for a whole batch with :func:`colorlib.ssim.ssim_batch`.

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
        ``"ciede2000"``: mean CIEDE2000; ``"auc"``: :func:`ab_auc`; ``"colourfulness"`` of the
        prediction and ``"colourfulness_gap"``, prediction minus truth (:func:`colourfulness`).
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
                verdict = _verdict(metric, row)
                row["beats_baseline"] = None if verdict is None else verdict == "better"
            summary[model][metric] = row
    return summary


def _verdict(metric, row):
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


def format_table(summary, digits=4):
    """A plain-text table of {row: {column: value}}."""
    cells = {name: {column: f"{value:.{digits}f}" for column, value in row.items()}
             for name, row in summary.items()}
    return _text_table(cells)


def format_ci_table(summary, baseline="grey", digits=3):
    """A plain-text table of :func:`summarize_with_ci`'s output, cells "mean [low, high]".

    One row per metric, saying which way it improves; one column per model, then one per model
    other than the baseline: "<model> - <baseline>", its paired difference from the baseline,
    starred where it beats the baseline.
    """
    others = [model for model in summary if model != baseline]
    cells = {}
    for metric in summary[baseline]:
        row = {model: _mean_interval(summary[model][metric], digits) for model in summary}
        for model in others:
            star = " *" if summary[model][metric]["beats_baseline"] else ""
            row[f"{model} - {baseline}"] = _difference_interval(summary[model][metric], digits) + star
        cells[_metric_label(metric)] = row
    note = f"* the interval excludes zero on the better side: beats {baseline}"
    return _text_table(cells) + "\n" + note


def _metric_label(metric):
    return f"{metric} ({_direction(metric)})" if _direction(metric) else metric


def _direction(metric):
    higher = HIGHER_IS_BETTER.get(metric)
    return None if higher is None else f"{'higher' if higher else 'lower'} is better"


def _mean_interval(row, digits):
    return _interval(row["mean"], row["low"], row["high"], digits)


def _difference_interval(row, digits):
    return _interval(row["difference"], row["difference_low"], row["difference_high"], digits)


def _interval(mean, low, high, digits):
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _text_table(cells):
    """Right-aligned columns of {row: {column: text}}, each as wide as its widest entry."""
    columns = list(next(iter(cells.values())))
    widths = {c: 2 + max(len(c), *(len(row[c]) for row in cells.values())) for c in columns}
    name_width = max(len(name) for name in cells) + 2
    lines = [" " * name_width + "".join(f"{c:>{widths[c]}}" for c in columns)]
    for name, row in cells.items():
        lines.append(f"{name:<{name_width}}" + "".join(f"{row[c]:>{widths[c]}}" for c in columns))
    return "\n".join(lines)


def describe_results_with_ci(summary, baseline="grey", capstone_ssim=0.87, confidence=0.95, digits=3):
    """Conclusions written from :func:`summarize_with_ci`'s numbers, one bullet per model.

    A model is said to beat (or lose to) the baseline on a metric only where the interval of
    its paired difference excludes zero; otherwise the two cannot be told apart on these images.

    Parameters
    ----------
    summary : dict
        The output of :func:`summarize_with_ci`.
    baseline : str
    capstone_ssim : float
        The SSIM the capstone published, compared with the baseline's.
    confidence : float
        The confidence the intervals were computed at, quoted in the text.
    digits : int

    Returns
    -------
    str
        Markdown bullets.
    """
    lines = [f"Intervals are {confidence:.0%} bootstrap intervals over the images; differences are paired."]
    if "ssim" in summary[baseline]:
        lines.append(_capstone_sentence(summary[baseline]["ssim"], baseline, capstone_ssim, digits))
    for model, rows in summary.items():
        if model != baseline:
            lines += _model_bullets(model, rows, baseline, digits)
    return "\n".join(lines)


def _capstone_sentence(row, baseline, capstone_ssim, digits):
    if row["low"] > capstone_ssim:
        where = "above"
    elif row["high"] < capstone_ssim:
        where = "below"
    else:
        where = "not distinguishable from"
    return (f"- The {baseline} baseline scores a capstone SSIM of {_mean_interval(row, digits)}, "
            f"{where} the capstone's published {capstone_ssim}.")


_VERDICT_WORDS = {"better": "better", "worse": "worse", "unclear": "no clear difference"}


def _model_bullets(model, rows, baseline, digits):
    verdicts = {metric: verdict for metric, row in rows.items() if (verdict := _verdict(metric, row))}
    said = []
    clauses = (("better", "beats"), ("worse", "loses to"), ("unclear", "cannot be told apart from"))
    for verdict, clause in clauses:
        names = [METRIC_NAMES.get(metric, metric) for metric in verdicts if verdicts[metric] == verdict]
        if names:  # the first clause names the baseline, the others refer back to it
            said.append(f"{clause} {'it' if said else baseline} on {_join(names)}")
    lines = [f"- {model} {'; '.join(said)}."]
    for metric, row in rows.items():
        name = METRIC_NAMES.get(metric, metric)
        values = _mean_interval(row, digits)
        if metric in verdicts:
            difference = _difference_interval(row, digits)
            lines.append(f"  - {name}, {_direction(metric)}: {values}; "
                         f"{model} minus {baseline}: {difference}, {_VERDICT_WORDS[verdicts[metric]]}.")
        elif metric == "colourfulness_gap":
            lines.append(f"  - {name}, prediction minus truth: {values}, {_vividness(row)}.")
    return lines


def _join(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _vividness(row):
    if row["high"] < 0:
        return "duller than the truth"
    if row["low"] > 0:
        return "more vivid than the truth"
    return "as colourful as the truth, within the interval"


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


def results_markdown(summary, metrics=("ssim", "ciede2000", "auc", "colourfulness"), baseline="grey",
                     photos_colourfulness=None, digits=3):
    """A Markdown table of :func:`summarize_with_ci`'s output: one row per model, one column per metric.

    Each cell is "mean [low, high]"; a model's cell adds its paired difference from the baseline,
    in bold with "beats grey" where that interval excludes zero on the better side.
    Colourfulness cells carry Hasler and Suesstrunk's word for the value.

    Parameters
    ----------
    summary : dict
    metrics : sequence of str
    baseline : str
    photos_colourfulness : float, optional
        The photos' own mean colourfulness, added as a last row for comparison.
    digits : int

    Returns
    -------
    str
        Markdown.
    """
    header = ["model"] + [METRIC_NAMES.get(metric, metric) + (f" ({_direction(metric)})" if _direction(metric) else "")
                          for metric in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for model, rows in summary.items():
        cells = [model]
        for metric in metrics:
            row = rows[metric]
            cell = _mean_interval(row, digits)
            if metric == "colourfulness":
                cell = f"{row['mean']:.1f} [{row['low']:.1f}, {row['high']:.1f}], {colourfulness_word(row['mean'])}"
            elif model != baseline and HIGHER_IS_BETTER.get(metric) is not None:
                difference = f"vs {baseline} {row['difference']:+.{digits}f} " \
                             f"[{row['difference_low']:+.{digits}f}, {row['difference_high']:+.{digits}f}]"
                cell += f"<br>**{difference}, beats {baseline}**" if row["beats_baseline"] else f"<br>{difference}"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    if photos_colourfulness is not None and "colourfulness" in metrics:
        cells = ["the photos themselves"] + [
            f"{photos_colourfulness:.1f}, {colourfulness_word(photos_colourfulness)}" if metric == "colourfulness"
            else "" for metric in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def differences_markdown(summary, scores, baseline="grey", metrics=("ciede2000", "auc"), digits=3):
    """A Markdown table of each model's paired difference from the baseline and its win rate.

    Parameters
    ----------
    summary : dict
        The output of :func:`summarize_with_ci`.
    scores : dict
        {model: {metric: per-image ndarray}}, the scores it summarises.
    baseline : str
    metrics : sequence of str
        Metrics with a direction; CIEDE2000 differences are also given in just-noticeable differences.
    digits : int

    Returns
    -------
    str
        Markdown: per metric, "model minus baseline [interval]" and the share of photos it wins.
    """
    rates = win_rates(scores, baseline, metrics)
    header = ["model"]
    for metric in metrics:
        header += [f"{METRIC_NAMES.get(metric, metric)} minus {baseline} ({_direction(metric)})",
                   f"photos where it beats {baseline} on {METRIC_NAMES.get(metric, metric)}"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for model in rates:
        cells = [model]
        for metric in metrics:
            row = summary[model][metric]
            cell = (f"{row['difference']:+.{digits}f} [{row['difference_low']:+.{digits}f}, "
                    f"{row['difference_high']:+.{digits}f}]")
            cell = f"**{cell}**" if row["beats_baseline"] else cell
            if metric == "ciede2000":
                cell += f"<br>({ciede2000_jnd(row['difference'])})"
            cells += [cell, f"{rates[model][metric]:.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
