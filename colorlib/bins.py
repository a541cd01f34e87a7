"""Colour as classification: a*b* quantised into bins, after Zhang, Isola and Efros (2016).

Regressing a*b* with L1 predicts the median of every colour a region could have, and for most
objects that is nearly grey. Predicting a distribution over quantised a*b* keeps each candidate
colour; weighting rare colours up (class rebalancing) stops the many greyish pixels from
dominating the loss; the annealed mean (a softmax sharpened by a temperature below 1) decodes one
colour per pixel, vivid where the network is confident and smooth in space.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorlib.lab import AB_SCALE, in_gamut

GRID = 10.0  # side of a bin in a*b* units, as in the paper
NEIGHBOURS = 5  # a true colour is spread over its 5 nearest bins...
SIGMA = 5.0  # ...with Gaussian weights of this width (a*b* units)
REBALANCE = 0.5  # weights are 1 / ((1 - REBALANCE) * prior + REBALANCE / bins)
TEMPERATURE = 0.38  # of the annealed mean: the paper's choice between vivid and coherent
CELL = 2.0  # side of a cell of NearestBins' candidate table (a*b* units)...
CELL_LIMIT = 132.0  # ...which covers |a|, |b| up to this, past any sRGB colour's


def ab_bins(grid=GRID, limit=110.0):
    """Centres of the a*b* grid cells that hold an sRGB colour at some lightness, natural units, (Q, 2).

    With a 10-unit grid this gives a few hundred bins (the paper counts 313 with its gamut).
    """
    axis = np.arange(-limit, limit + grid / 2, grid)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    centres = np.stack([a.ravel(), b.ravel()], axis=1)
    lightness = np.linspace(1.0, 99.0, 50)
    lab = np.concatenate([np.broadcast_to(lightness[:, None, None], (50, len(centres), 1)),
                          np.broadcast_to(centres[None], (50, len(centres), 2))], axis=-1)
    return centres[in_gamut(lab).any(axis=0)].astype(np.float32)


def nearest_bins(ab, centres, k=NEIGHBOURS):
    """Indices and squared distances of the k nearest bins of each pixel's ab, both (P, k).

    ``ab`` is (N, 2, H, W) and ``centres`` (Q, 2), in the same units.
    """
    pixels = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
    distances = torch.cdist(pixels, centres.float()) ** 2
    squared, indices = distances.topk(k, dim=1, largest=False)
    return indices, squared


class NearestBins(nn.Module):
    """:func:`nearest_bins` for the bins it is built with, searching a few candidates per pixel.

    A square grid of cells over a*b* lists, for each cell, every bin that can be among the k
    nearest of a point inside it: by the triangle inequality a bin qualifies only if its distance
    from the cell's centre is at most that centre's k-th nearest distance plus the cell's
    diagonal. Searching those (a dozen, not a few hundred) finds the same bins as searching all;
    a batch with a pixel off the grid is searched in full. The tables are built from the bins and
    never saved.
    """

    def __init__(self, centres, k=NEIGHBOURS, cell=CELL / AB_SCALE, limit=CELL_LIMIT / AB_SCALE):
        super().__init__()
        self.k, self.cell, self.limit = k, cell, limit
        self.side = int(round(2 * limit / cell))
        axis = -limit + cell * (torch.arange(self.side, dtype=torch.float64) + 0.5)
        a, b = torch.meshgrid(axis, axis, indexing="ij")
        distances = torch.cdist(torch.stack([a.ravel(), b.ravel()], 1), centres.double())
        # The diagonal, with a margin for a pixel that float rounding puts in the next cell.
        reach = distances.topk(k, dim=1, largest=False).values[:, -1:] + 1.1 * cell * 2**0.5
        qualifies = distances <= reach
        width = int(qualifies.sum(1).max())
        order = torch.where(qualifies, distances, torch.inf).argsort(dim=1)[:, :width]
        self.register_buffer("centres", centres.float().clone(), persistent=False)
        self.register_buffer("candidates", order, persistent=False)  # (cells, width)
        self.register_buffer("qualifies", qualifies.gather(1, order), persistent=False)

    def forward(self, ab):
        """Indices and squared distances of each pixel's k nearest bins, both (P, k), as :func:`nearest_bins`."""
        pixels = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
        cells = ((pixels + self.limit) / self.cell).floor().long()
        if not ((cells >= 0) & (cells < self.side)).all():
            return nearest_bins(ab, self.centres, self.k)
        cell = cells[:, 0] * self.side + cells[:, 1]
        candidates = self.candidates[cell]
        squared = ((pixels[:, None, :] - self.centres[candidates]) ** 2).sum(dim=2)
        squared = squared.masked_fill(~self.qualifies[cell], torch.inf)
        squared, which = squared.topk(self.k, dim=1, largest=False)
        return candidates.gather(1, which), squared


def soft_targets(squared, sigma):
    """Gaussian weights of the nearest bins from their squared distances, summing to 1 per pixel."""
    return torch.softmax(-squared / (2 * sigma**2), dim=1)


def colour_prior(ab, centres, sigma, sample=4, chunk=64):
    """How often each bin is the nearest to a training pixel, smoothed with a Gaussian in a*b*, (Q,).

    Every ``sample``-th pixel in each direction of ``ab`` is counted: normalised ab, (N, 2, H, W)
    of any float dtype, or an iterable of such batches (photos read a batch at a time). A tensor
    is counted ``chunk`` images at a time: the distances of every pixel to every bin at once
    took 10 GB for ten thousand photos at 128 px.
    """
    counts = torch.zeros(len(centres), dtype=torch.float64)
    for part in ab.split(chunk) if torch.is_tensor(ab) else ab:
        indices, _ = nearest_bins(part[:, :, ::sample, ::sample].float(), centres, k=1)
        counts += torch.bincount(indices[:, 0], minlength=len(centres))
    kernel = torch.exp(-torch.cdist(centres.double(), centres.double()) ** 2 / (2 * sigma**2))
    prior = kernel @ (counts / counts.sum()) / kernel.sum(dim=1)
    return (prior / prior.sum()).float()


def rebalancing_weights(prior, rebalance=REBALANCE):
    """Class weights from a colour prior: rare colours count more, (Q,).

    The prior mixed with the uniform distribution (``rebalance`` of it), inverted, normalised so
    that the expected weight of a training pixel is 1. ``rebalance=1`` weighs every colour alike.
    """
    prior = prior.double()
    weights = 1.0 / ((1 - rebalance) * prior + rebalance / len(prior))
    return (weights / (prior * weights).sum()).float()


def annealed_mean(logits, centres, temperature=TEMPERATURE):
    """Decode (N, Q, H, W) logits into (N, 2, H, W) ab: the mean of the softmax at a temperature."""
    probabilities = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", probabilities, centres)


def sampled_logits(net, L, dy, dx, step):
    """``net(L)[:, :, dy::step, dx::step]``, with a last pointwise layer run at those pixels only.

    The loss learns from a quarter of the pixels (``step=2``, at an offset drawn each step)
    about as much as from all of them: neighbouring pixels share their colour, and the paper
    itself scores its loss at a quarter of the input's side. A fastai DynamicUnet ends in a 1 x 1
    convolution to the bins, which commutes with taking pixels, so it is run only there: at full
    resolution that layer, the softmax and the loss were a third of a cpu training step. Any
    other net is run in full, then sampled.
    """
    layers = getattr(net, "layers", None)
    last = layers[-2] if layers is not None and len(layers) > 2 else None  # DynamicUnet: ..., 1x1 conv, ToTensorBase
    conv = last[0] if isinstance(last, nn.Sequential) and len(last) == 1 else None
    if not (isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1) and conv.stride == (1, 1)):
        return net(L)[:, :, dy::step, dx::step]
    x = L
    for layer in layers[:-2]:  # as fastai's SequentialEx runs them: each layer may read the input as .orig
        x.orig = L
        out = layer(x)
        x.orig, out.orig = None, None
        x = out
    return layers[-1](last(x[:, :, dy::step, dx::step]))


def upsampled(ab, size):
    """ab resized bilinearly to ``size`` (height, width), unchanged when already there.

    Colour is smooth where lightness is sharp: a*b* decoded at a fraction of the side are laid
    onto the full-resolution L* this way.
    """
    if ab.shape[-2:] == tuple(size):
        return ab
    return F.interpolate(ab, size=tuple(size), mode="bilinear", align_corners=False)


class BinnedColour(nn.Module):
    """A network scoring a*b* bins per pixel, seen from outside as a generator of ab.

    ``forward`` returns normalised ab (the annealed mean), so evaluation, colorizing and the
    GAN use it as any generator; given the true ab too, it also returns :meth:`loss`, the
    classification loss its pretraining (and the GAN, with ``gan_reconstruction="cross_entropy"``)
    uses, from the same scores.

    Parameters
    ----------
    net : nn.Module
        Maps normalised L (N, 1, H, W) to (N, Q, H, W) logits, one per bin of :func:`ab_bins`.
    """

    def __init__(self, net, temperature=TEMPERATURE):
        super().__init__()
        self.net = net
        self.temperature = temperature
        self.register_buffer("centres", torch.from_numpy(ab_bins()) / AB_SCALE)  # normalised ab
        self.nearest = NearestBins(self.centres)
        # Set from the training photos by fit_prior: the class weights, and the prior's log added
        # to the network's scores, so that a network whose last layer starts at zero starts by
        # predicting the training photos' colour distribution.
        self.register_buffer("weights", torch.ones(len(self.centres)))
        self.register_buffer("log_prior", torch.zeros(len(self.centres)))

    @staticmethod
    def bin_count():
        return len(ab_bins())

    @property
    def sigma(self):
        return SIGMA / AB_SCALE

    def fit_prior(self, ab, rebalance=REBALANCE):
        """Set the prior and the class weights from training images' normalised ab (see :func:`colour_prior`)."""
        prior = colour_prior(ab, self.centres, self.sigma)
        self.log_prior.copy_(prior.clamp_min(1e-8).log())
        self.weights.copy_(rebalancing_weights(prior, rebalance))

    def scores(self, L, sample=None):
        """Per-pixel scores (logits) of the bins, (N, Q, H, W); with ``sample``, at those pixels only.

        ``sample`` is ``(dy, dx, step)``: the pixels ``[dy::step, dx::step]``, one per
        ``step`` x ``step`` block (see :func:`sampled_logits`).
        """
        logits = self.net(L) if sample is None else sampled_logits(self.net, L, *sample)
        return logits.float() + self.log_prior.view(1, -1, 1, 1)

    def forward(self, L, ab=None, decode=True, sample=None):
        """Normalised ab for L; given the true ``ab`` too, ``(ab for L, classification loss)``.

        One call scores the bins once for both, and goes through DistributedDataParallel's
        forward when the module is wrapped in it. ``decode=False`` skips the annealed mean
        (``(None, loss)``): pretraining needs only the loss, which ``sample=(dy, dx, step)``
        takes at one pixel of each ``step`` x ``step`` block (``decode=False`` only).
        """
        if sample is not None:
            if decode or ab is None:
                raise ValueError("sample scores the loss at some pixels only: it needs ab and decode=False")
            dy, dx, step = sample
            return None, self.loss_of_scores(self.scores(L, sample), ab[:, :, dy::step, dx::step])
        scores = self.scores(L)
        fake = upsampled(annealed_mean(scores, self.centres, self.temperature), L.shape[-2:]) if decode else None
        if ab is None:
            return fake
        return fake, self.loss_of_scores(scores, ab)

    def loss(self, L, ab):
        """Cross-entropy with soft targets on the nearest bins, each pixel weighted by its colour's rarity."""
        return self.loss_of_scores(self.scores(L), ab)

    def loss_of_scores(self, scores, ab):
        """:meth:`loss` from the bins' scores, (N, Q, H, W), already computed.

        Scores at a fraction of ab's side (a generator whose decoder stops early,
        :func:`colorlib.models.cut_decoder`) are compared with ab averaged over each score's
        pixels, as Zhang et al. score theirs at a quarter of the side.
        """
        n, _, h, w = scores.shape
        if ab.shape[-2:] != (h, w):
            ab = F.interpolate(ab, size=(h, w), mode="area")
        indices, squared = self.nearest(ab)
        targets = soft_targets(squared, self.sigma)

        def as_maps(per_pixel):  # (P, k) -> (N, k, H, W), beside the scores: no copy of the scores
            return per_pixel.view(n, h, w, -1).permute(0, 3, 1, 2)

        log_p = F.log_softmax(scores, dim=1).gather(1, as_maps(indices))
        per_pixel = -(as_maps(targets) * log_p).sum(dim=1)
        return (self.weights[indices[:, 0]].view(n, h, w) * per_pixel).mean()
