"""Chroma calibration: how far to scale a generator's a*b* towards grey.

A generator is often unsure of a colour yet paints it at full strength; when it guesses wrong,
a strong wrong colour costs more CIEDE2000 than a faint one.
Scaling its predicted a*b* by one number s (s < 1 desaturates, s > 1 saturates) trades colour
for safety. The scale is fitted on photos the generator did not train on, by the lowest mean
CIEDE2000 over :data:`CHROMA_SCALES`.

Fitting and scoring on the same photos would flatter the result, so the evaluation scores each
photo with a scale fitted on the other photos (:func:`cross_fitted_scales`, K-fold cross-fitting):
every score is out of sample. The scale fitted on all of them (:func:`best_scale`) is the one a
colorizer uses on new photos.
"""
import numpy as np

from colorlib.metrics import mean_ciede2000

# 0, 0.1, ..., 1.2: 0 is the grey baseline, 1 the colours as predicted.
CHROMA_SCALES = tuple(round(0.1 * i, 1) for i in range(13))
FOLDS = 10


def chroma_errors(L, fake_ab, real_ab, scales=CHROMA_SCALES):
    """Mean CIEDE2000 of each image with its predicted a*b* scaled by each scale.

    Parameters
    ----------
    L : array-like, shape (N, 1, H, W)
    fake_ab, real_ab : array-like, shape (N, 2, H, W)
        Normalised, as :mod:`colorlib.lab` holds them.
    scales : sequence of float

    Returns
    -------
    ndarray, shape (len(scales), N)
    """
    L, fake_ab, real_ab = (np.asarray(t, dtype=np.float32) for t in (L, fake_ab, real_ab))
    return np.array([[mean_ciede2000(L[i], scale * fake_ab[i], real_ab[i]) for i in range(len(L))]
                     for scale in scales])


def best_scale(errors, scales=CHROMA_SCALES):
    """The scale with the lowest mean error over the images (the first of equals).

    Parameters
    ----------
    errors : array-like, shape (len(scales), N)
        As :func:`chroma_errors` returns them.
    scales : sequence of float

    Returns
    -------
    float
    """
    errors = np.asarray(errors)
    if errors.shape[0] != len(scales) or errors.shape[1] == 0:
        raise ValueError(f"errors of shape {errors.shape}: expected ({len(scales)}, N >= 1), one row per scale")
    return float(scales[int(errors.mean(axis=1).argmin())])


def fold_count(folds, n):
    """The folds cross-fitting deals n images into: ``folds``, or one per image when there are fewer."""
    return min(folds, n)


def cross_fitted_scales(errors, scales=CHROMA_SCALES, folds=FOLDS, seed=0):
    """For each image, the best scale on the images outside its fold.

    The images are dealt at random (seeded) into ``folds`` groups; an image's scale is fitted
    (:func:`best_scale`) on the other groups, so it never sees the image it is used on.

    Parameters
    ----------
    errors : array-like, shape (len(scales), N)
        As :func:`chroma_errors` returns them; N at least 2.
    scales : sequence of float
    folds : int
        Groups; with fewer than ``folds`` images, one per image (leave-one-out, :func:`fold_count`).
    seed : int

    Returns
    -------
    ndarray, shape (N,)
    """
    errors = np.asarray(errors)
    n = errors.shape[1]
    if n < 2:
        raise ValueError(f"cross-fitting needs at least 2 images, got {n}")
    folds = fold_count(folds, n)
    fold = np.random.default_rng(seed).permutation(n) % folds
    chosen = np.empty(n)
    for k in range(folds):
        chosen[fold == k] = best_scale(errors[:, fold != k], scales)
    return chosen
