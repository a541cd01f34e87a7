"""Notebook 03, pretraining: why regression greys the colours, the a*b* bins, their prior and weights, the annealed mean."""
import matplotlib.pyplot as plt
import numpy as np
import torch

from colorlib.bins import SIGMA
from colorlib.lab import AB_SCALE, L_CENTER, lab_to_srgb


def pixels_at_lightness(lab, lightness=50.0, width=2.0, limit=20000, seed=0):
    """The a*b* of the photos' pixels whose L* lies within ``width`` of ``lightness``, natural units.

    Parameters
    ----------
    lab : Tensor, (N, 3, H, W)
        Normalised Lab photos (``colorlib.splits.lab_tensors`` read back by ``colorlib.lab.dequantise_lab``).
    lightness, width : float
    limit : int
        At most this many pixels, drawn at random with ``seed``.

    Returns
    -------
    ndarray, (P, 2)
    """
    pixels = lab.float().permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    L, ab = (pixels[:, 0] + 1) * L_CENTER, pixels[:, 1:] * AB_SCALE
    ab = ab[np.abs(L - lightness) <= width]
    if len(ab) > limit:
        ab = ab[np.random.default_rng(seed).choice(len(ab), limit, replace=False)]
    return ab


def srgb_of_ab(ab, lightness=65.0):
    """The displayable sRGB colour of each a*b* at one lightness, (P, 3) in [0, 1] (out-of-gamut ones fitted)."""
    ab = np.asarray(ab, dtype=np.float64).reshape(-1, 2)
    lab = np.concatenate([np.full((len(ab), 1), lightness), ab], axis=1)
    return lab_to_srgb(lab[:, None, :])[:, 0]


def plot_ab_spread(ab, answers, lightness=50.0):
    """The pixels' a*b* at one lightness, each dot in its own colour, with the answers of some losses marked.

    Parameters
    ----------
    ab : ndarray, (P, 2)
        From :func:`pixels_at_lightness`.
    answers : dict of str to (float, float)
        Label to the a*b* a loss predicts for every one of these pixels.
    lightness : float
    """
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(ab[:, 0], ab[:, 1], s=3, c=srgb_of_ab(ab, lightness), alpha=0.6, linewidths=0)
    # Answers can lie a unit apart: the first is a large ring, the later ones smaller filled marks inside it.
    for i, (label, point) in enumerate(answers.items()):
        face = "none" if i == 0 else srgb_of_ab(point, lightness)
        ax.scatter(*point, s=420 if i == 0 else 90, marker="os^D"[i % 4], facecolors=face, edgecolors="black",
                   linewidths=2 if i == 0 else 1.2, label=f"{label}: a* {point[0]:.1f}, b* {point[1]:.1f}",
                   zorder=3 + i)
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.axvline(0, color="0.7", linewidth=0.8)
    limit = max(40.0, float(np.percentile(np.abs(ab), 99)) + 5)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("a* (green - red)")
    ax.set_ylabel("b* (blue - yellow)")
    ax.set_title(f"{len(ab):,} training pixels with L* near {lightness:g}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def chroma(ab):
    """Distance from grey in the a*b* plane, per row of (P, 2) a*b*."""
    return np.hypot(*np.asarray(ab, dtype=np.float64).reshape(-1, 2).T)


def plot_bins(centres, prior, weights, grid=10.0):
    """Three maps of the a*b* bins: each bin in its colour, the photos' prior over them, and the class weights.

    Parameters
    ----------
    centres : ndarray, (Q, 2)
        The bins' centres in natural a*b* units (``colorlib.bins.ab_bins``).
    prior, weights : ndarray, (Q,)
        ``colorlib.bins.colour_prior`` and ``colorlib.bins.rebalancing_weights``.
    grid : float
        A bin's side, in a*b* units.
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
    panels = ((srgb_of_ab(centres), None, f"the {len(centres)} bins, each in its colour at L* 65"),
              (np.log10(np.maximum(prior, 1e-6)), "magma", "the photos' prior (log10 of each bin's share)"),
              (weights, "viridis", "class weight after rebalancing"))
    for ax, (values, cmap, title) in zip(axes, panels):
        shown = ax.scatter(centres[:, 0], centres[:, 1], c=values, cmap=cmap, marker="s",
                           s=(grid * 0.9 * 72 * 4.0 / 240) ** 2)  # squares about a bin wide at this size
        if cmap:
            fig.colorbar(shown, ax=ax, fraction=0.046)
        ax.set_aspect("equal")
        ax.set_xlim(-115, 115)
        ax.set_ylim(-115, 115)
        ax.axhline(0, color="0.8", linewidth=0.6)
        ax.axvline(0, color="0.8", linewidth=0.6)
        ax.set_xlabel("a*")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("b*")
    fig.tight_layout()
    return fig


def two_colour_logits(centres, colours, shares, sigma=SIGMA):
    """Log-probabilities over the bins of a pixel that is one of a few colours, each with its share.

    Each colour's probability is spread over the bins near it with Gaussian weights of width
    ``sigma`` (a*b* units), as a network unsure between them would spread it.

    Parameters
    ----------
    centres : Tensor, (Q, 2)
    colours : sequence of (float, float)
    shares : sequence of float
        Summing to 1.

    Returns
    -------
    Tensor, (1, Q, 1, 1)
        Logits in the layout ``colorlib.bins.annealed_mean`` decodes.
    """
    probabilities = torch.zeros(len(centres), dtype=torch.float64)
    for colour, share in zip(colours, shares):
        near = torch.exp(-((centres.double() - torch.tensor(colour, dtype=torch.float64)) ** 2).sum(1) / (2 * sigma**2))
        probabilities += share * near / near.sum()
    return probabilities.log().float().view(1, -1, 1, 1)
