"""Figures of the course. Each function draws one figure and returns it.

Figures are matplotlib ``Figure`` objects; in a notebook, assign the result (``fig = ...``) and
the inline backend shows it once.
"""
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from colorlib.atomic import write_atomically
from colorlib.lab import lab_to_rgb, lab_to_srgb, lightness


def save_figure(fig, path, dpi=100):
    """Save a figure as a PNG file through :func:`colorlib.atomic.write_atomically`.

    The notebooks hand their figures to the report through the run folder: a link planted at
    one of those names is replaced, never written through, and an interrupted save leaves none.
    """
    write_atomically(path, lambda file: fig.savefig(file, format="png", dpi=dpi))


def show_images(images, titles=None, ncols=4, size=3.0):
    """A grid of RGB (or greyscale) images with optional titles."""
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def lab_axis_colormap(channel, lightness=65.0, extent=80.0, steps=256):
    """A diverging colour map that shows the colour each value of a* or b* stands for.

    Grey at 0, and at each end the colour of Lab (lightness, -extent, 0) and (lightness, +extent, 0)
    for a* (green to red), or (lightness, 0, -extent) and (lightness, 0, +extent) for b* (blue to
    yellow), clipped to the sRGB gamut.

    Parameters
    ----------
    channel : {"a", "b"}
    lightness : float
        L* of every colour of the map.
    extent : float
        The a* or b* at the map's ends.
    steps : int

    Returns
    -------
    matplotlib.colors.ListedColormap
    """
    from matplotlib.colors import ListedColormap

    values = np.linspace(-extent, extent, steps)
    lab = np.zeros((1, steps, 3))
    lab[..., 0] = lightness
    lab[..., {"a": 1, "b": 2}[channel]] = values
    return ListedColormap(lab_to_srgb(lab)[0], name=f"lab_{channel}")


def show_lab_channels(lab):
    """A natural-unit Lab image: the photo, then L*, a* and b* each with its colour bar.

    L* is shown in grey from 0 to 100. a* and b* use diverging colour maps centred on 0 (grey: no
    colour), with the same symmetric limits, so that both show how far the photo's colour goes on
    each axis (:func:`lab_axis_colormap`).
    """
    lab = np.asarray(lab, dtype=np.float64)
    limit = max(1.0, float(np.abs(lab[..., 1:]).max()))  # no pixel clipped: the most colourful one included
    panels = [("L* (lightness)", lab[..., 0], "gray", 0.0, 100.0),
              ("a* (green - red)", lab[..., 1], lab_axis_colormap("a"), -limit, limit),
              ("b* (blue - yellow)", lab[..., 2], lab_axis_colormap("b"), -limit, limit)]
    height, width = lab.shape[:2]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2 * height / width + 0.6))
    axes[0].imshow(np.clip(lab_to_srgb(lab), 0, 1))
    axes[0].set_title("the photo", fontsize=10)
    for ax, (name, channel, cmap, low, high) in zip(axes[1:], panels):
        shown = ax.imshow(channel, cmap=cmap, vmin=low, vmax=high)
        ax.set_title(name, fontsize=10)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def show_preprocessing(variants, lightness):
    """Each preprocessed image (in colour) above the histogram of its L*, the generator's input.

    ``variants`` and ``lightness`` are :func:`colorlib.preprocessing.preprocessing_variants` and
    :func:`colorlib.preprocessing.lightness_variants` of one photo.
    """
    fig, axes = plt.subplots(2, len(variants), figsize=(3.2 * len(variants), 6))
    for column, (name, image) in enumerate(variants.items()):
        axes[0, column].imshow(np.clip(image, 0, 1))
        axes[0, column].set_title(name, fontsize=9)
        axes[0, column].axis("off")
        axes[1, column].hist(np.ravel(lightness[name]), bins=64, range=(0, 100), color="0.3")
        axes[1, column].set_xlabel("L*")
        axes[1, column].set_yticks([])
    fig.tight_layout()
    return fig


def show_gray_fake_real(L, fake_ab, real_ab, n=5):
    """The capstone's figure: grey input, colorization and truth for n images, one row each."""
    n = min(n, len(L))
    fake = lab_to_rgb(L[:n], fake_ab[:n])
    real = lab_to_rgb(L[:n], real_ab[:n])
    grey = (np.asarray(L[:n].float().cpu())[:, 0] + 1.0) / 2.0
    fig, axes = plt.subplots(3, n, figsize=(3 * n, 9), squeeze=False)
    for row, (name, images) in enumerate([("Gray", grey), ("Fake", fake), ("Real", real)]):
        for column in range(n):
            ax = axes[row, column]
            ax.imshow(images[column], cmap="gray" if name == "Gray" else None, vmin=0, vmax=1)
            ax.axis("off")
            if column == 0:
                ax.set_title(name, loc="left")
    fig.tight_layout()
    return fig


def show_comparison(L, predictions, real_ab, n=6, size=2.4):
    """The same photos (columns) as grey input, through each model (rows) and as they really are.

    Parameters
    ----------
    L : Tensor, shape (N, 1, H, W)
    predictions : dict
        {row label: predicted ab (N, 2, H, W)}, e.g. {"L1": ..., "GAN": ..., "shipped": ...}.
    real_ab : Tensor, shape (N, 2, H, W)
    n : int
        Photos shown.
    """
    n = min(n, len(L))
    rows = {"Gray": (np.asarray(L[:n].float().cpu())[:, 0] + 1.0) / 2.0}
    rows.update({name: lab_to_rgb(L[:n], ab[:n]) for name, ab in predictions.items()})
    rows["Real"] = lab_to_rgb(L[:n], real_ab[:n])
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows)), squeeze=False)
    for row, (name, images) in enumerate(rows.items()):
        for column in range(n):
            ax = axes[row, column]
            ax.imshow(images[column], cmap="gray" if name == "Gray" else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:  # long labels wrapped, or they run into the next row's
                ax.set_ylabel(textwrap.fill(name, 20), fontsize=12 if len(name) <= 20 else 9)
    fig.tight_layout()
    return fig


def plot_history(history, keys, title=None):
    """Per-epoch curves of the named values in a training history."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [record["epoch"] for record in history]
    for key in keys:
        ax.plot(epochs, [record[key] for record in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_pretraining(history, loss="L1"):
    """The pretraining's loss against training steps: every step's, and on the validation photos.

    With the L1 loss, one panel: the training L1 (each step's, and its running mean), the
    validation L1 at each check (:class:`colorlib.stages.ValidationChecks`) and, dashed, the
    validation L1 of grey (``grey_L1``, ab = 0 everywhere). With another loss (the
    classification's ``cross_entropy``), that loss for training and validation on the left and the
    validation L1 against grey's on the right: grey has no cross-entropy, but its L1 is the
    reference. A history written before these were recorded draws what it has.

    Parameters
    ----------
    history : list of dict
        :func:`colorlib.stages.pretrain`'s records.
    loss : str
        The training loss's name in the records (:data:`colorlib.trainers.PRETRAIN_LOSSES`).
    """
    panels = [loss] if loss == "L1" else [loss, "L1"]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.5), squeeze=False)
    steps, losses = _step_losses(history, loss)
    checks = [check for record in history for check in record.get("checks", [])]
    for ax, name in zip(axes[0], panels):
        if name == loss and losses:
            ax.plot(steps, losses, color="C0", alpha=0.25, linewidth=0.8)
            ax.plot(steps, running_mean(losses), color="C0", label=f"training {loss} (running mean)")
        points = [(check["step"], check["val_" + name]) for check in checks if "val_" + name in check]
        if points:
            ax.plot(*zip(*points), color="C1", marker="o", label=f"validation {name}, every validation photo")
        if name == "L1" and checks and "grey_L1" in checks[-1]:
            ax.axhline(checks[-1]["grey_L1"], color="0.4", linestyle="--", label="grey (no colour), validation L1")
        ax.set_xlabel("training step")
        ax.set_ylabel(name)
        if ax.lines:
            ax.legend(fontsize=8)
    axes[0, 0].set_title("pretraining loss")
    fig.tight_layout()
    return fig


def _step_losses(history, loss):
    """Every kept step's training loss and its step number, each epoch's ending at its last check's step."""
    steps, losses = [], []
    for record in history:
        values = record.get("step_losses", {}).get(loss, [])
        if values and record.get("checks"):
            end = record["checks"][-1]["step"]
            steps += range(end - len(values) + 1, end + 1)
            losses += values
    return steps, losses


def running_mean(values, share=0.05):
    """The mean of each value and the ones before it, over a window of ``share`` of them (at least 1)."""
    window = max(1, round(len(values) * share))
    sums = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def plot_score_distribution(scores, metric):
    """One per-image metric for several models, {model: scores}: a box per model, its mean marked.

    Boxes side by side stay readable however many models there are, where overlaid histograms
    do not. Each box spans the middle half of the images, its line the median, its whiskers the
    rest up to 1.5 box lengths; the white diamond is the mean, the number the tables report.
    """
    names = list(scores)
    values = [np.asarray(scores[name][metric]) for name in names]
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.45 * len(names)))
    ax.boxplot(values, vert=False, showmeans=True, flierprops={"markersize": 3},
               meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"})
    ax.set_yticks(range(1, len(names) + 1), [f"{name} (mean {v.mean():.3f})" for name, v in zip(names, values)])
    ax.invert_yaxis()  # the first model on top, as in the tables
    ax.set_xlabel(metric)
    fig.tight_layout()
    return fig


def plot_chroma_calibration(calibration, grey_ciede2000):
    """Each generator's mean CIEDE2000 against the scale of its a*b*, grey's as a dashed line.

    Parameters
    ----------
    calibration : dict
        As :func:`colorlib.evaluation.evaluate_calibrated` returns it (``metrics.json`` holds it);
        the scale it chose for each generator is starred.
    grey_ciede2000 : float
        The grey baseline's mean CIEDE2000: every generator's at scale 0.
    """
    fig, ax = plt.subplots(figsize=(6, 3.5))
    scales = calibration["scales"]
    for name, means in calibration["mean_ciede2000"].items():
        (line,) = ax.plot(scales, means, marker="o", ms=4, label=name)
        chosen = calibration["chosen"][name]
        ax.plot(chosen, means[scales.index(chosen)], marker="*", ms=14, color=line.get_color())
    ax.axhline(grey_ciede2000, color="grey", linestyle="--", label="grey (scale 0)")
    ax.set_xlabel("chroma scale (1: as predicted)")
    ax.set_ylabel("mean CIEDE2000 (lower is better)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_scatter(x, y, xlabel, ylabel):
    """One point per image: how two metrics relate."""
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(x, y, s=12, alpha=0.7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def show_photos(paths, size=None, ncols=4):
    """A grid of photos from files, titled by file name, resized to size x size if given."""
    from colorlib.dataset import load_rgb

    images = [np.asarray(load_rgb(path, size)) for path in paths]
    return show_images(images, [Path(path).name for path in paths], ncols=ncols)


def show_ranked(L, fake_ab, real_ab, indices, scores, label="model"):
    """Chosen validation images: the colorization above the truth, titled with their scores.

    ``scores`` is {"ssim": per-image, "ciede2000": per-image} of the colorization; ``label``
    names the colorization's row.
    """
    indices = [int(i) for i in indices]
    if not indices:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no such images in this validation set", ha="center", va="center")
        return fig
    titles = [f"SSIM {scores['ssim'][i]:.3f} · ΔE00 {scores['ciede2000'][i]:.1f}" for i in indices]
    fake = lab_to_rgb(L[indices], fake_ab[indices])
    real = lab_to_rgb(L[indices], real_ab[indices])
    fig, axes = plt.subplots(2, len(indices), figsize=(3 * len(indices), 6.4), squeeze=False)
    for column, title in enumerate(titles):
        for row, images in enumerate((fake, real)):
            axes[row, column].imshow(images[column])
            axes[row, column].axis("off")
        axes[0, column].set_title(title, fontsize=9)
    axes[0, 0].text(-0.1, 0.5, label, transform=axes[0, 0].transAxes, rotation=90, va="center")
    axes[1, 0].text(-0.1, 0.5, "truth", transform=axes[1, 0].transAxes, rotation=90, va="center")
    fig.tight_layout()
    return fig


def plot_differences_from_baseline(summary, rates, metrics=("ciede2000", "auc"), baseline="grey"):
    """Each model's paired difference from the baseline, with its 95% interval and win rate.

    Parameters
    ----------
    summary : dict
        :func:`colorlib.metrics.summarize_with_ci`'s output.
    rates : dict
        {model: {metric: share of images won}}, :func:`colorlib.metrics.win_rates`'s output.
    metrics : sequence of str
    baseline : str

    One panel per metric, one row per model: the dot is the mean difference, the bar its paired
    interval; the dashed line is the baseline. Green where the interval excludes zero on the
    better side, red on the worse; the number is the share of images on which the model beats the baseline.
    """
    from colorlib.metrics import HIGHER_IS_BETTER, METRIC_NAMES

    models = list(rates)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 0.9 + 0.5 * len(models)), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rows = [summary[model][metric] for model in models]
        for y, row in enumerate(rows):
            worse = row["difference_low"] > 0 if not HIGHER_IS_BETTER[metric] else row["difference_high"] < 0
            colour = "tab:green" if row["beats_baseline"] else "tab:red" if worse else "tab:grey"
            ax.errorbar(row["difference"], y, xerr=[[row["difference"] - row["difference_low"]],
                                                    [row["difference_high"] - row["difference"]]],
                        fmt="o", color=colour, capsize=4)
        ax.axvline(0, color="black", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(models)), [f"{m} (wins {rates[m][metric]:.0%})" for m in models])
        ax.invert_yaxis()
        better = "right" if HIGHER_IS_BETTER[metric] else "left"
        ax.set_xlabel(f"{METRIC_NAMES.get(metric, metric)} minus {baseline} (better: {better})")
    fig.tight_layout()
    return fig


def show_variants_colorized(variants, colorized, size=2.6):
    """Contrast variants of a photo as the generator sees them (L*, top) and as it colours them (bottom).

    Parameters
    ----------
    variants, colorized : dict of ndarray
        {name: RGB float image} each, as :func:`colorlib.chapters.ch06_colorize.colorize_variants` returns them
        (the variants grey, with exactly the L* the generator is given).
    """
    names = list(variants)
    fig, axes = plt.subplots(2, len(names), figsize=(size * len(names), 2 * size), squeeze=False)
    for column, name in enumerate(names):
        for row, image in enumerate((lightness(variants[name]) / 100.0, colorized[name])):
            ax = axes[row, column]
            ax.imshow(image, cmap="gray" if row == 0 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(name, fontsize=10)
    axes[0, 0].set_ylabel("the generator's input", fontsize=10)
    axes[1, 0].set_ylabel("colorized", fontsize=10)
    fig.tight_layout()
    return fig
