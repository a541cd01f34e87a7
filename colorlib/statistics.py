"""Confidence intervals for mean scores over images: the percentile bootstrap, plain and paired.

A mean over a few hundred photos moves with the photos drawn; resampling them shows how far,
and resampling two models' scores on the same photos shows whether one is really better.
"""
import numpy as np

# Fewer photos than this give no verdict against a baseline. A percentile bootstrap resamples the
# photos there are: one photo gives the point interval "0.005 [0.005, 0.005]", and below about ten
# its intervals are far narrower than the spread of new photos would be (they cover the true mean
# much less often than 95%).
MIN_VERDICT_IMAGES = 10


def bootstrap_ci(values, n_resamples=2000, confidence=0.95, seed=0):
    """Mean of per-image values and its percentile-bootstrap confidence interval.

    Draws ``n_resamples`` samples of the images with replacement, each as large as the
    original, and takes the central ``confidence`` share of their means.

    Parameters
    ----------
    values : array-like, shape (n,)
    n_resamples : int
    confidence : float
        In (0, 1), e.g. 0.95 for a 95% interval.
    seed : int
        Seeds numpy's ``default_rng``: the same seed draws the same resamples.

    Returns
    -------
    mean, low, high : float
        The mean of ``values`` and the interval's ends.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"expected a non-empty 1-d array of per-image values, got shape {values.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    rng = np.random.default_rng(seed)
    resampled_means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(resampled_means, [tail, 1 - tail])
    return float(values.mean()), float(low), float(high)


def paired_bootstrap_ci(model_values, baseline_values, n_resamples=2000, confidence=0.95, seed=0):
    """Mean of model minus baseline over the same images, and its bootstrap confidence interval.

    An image drawn into a resample brings both its scores, so what the two share (an easy photo
    is easy for both) cancels: the interval of the difference is far narrower than the two
    separate intervals suggest. An interval that excludes zero says one is better on such images.

    Parameters
    ----------
    model_values, baseline_values : array-like, shape (n,)
        Scores of the same n images, in the same order.
    n_resamples, confidence, seed
        As in :func:`bootstrap_ci`.

    Returns
    -------
    mean_difference, low, high : float
    """
    model_values = np.asarray(model_values, dtype=np.float64)
    baseline_values = np.asarray(baseline_values, dtype=np.float64)
    if model_values.shape != baseline_values.shape:
        shapes = f"{model_values.shape} and {baseline_values.shape}"
        raise ValueError(f"paired scores must cover the same images, got shapes {shapes}")
    return bootstrap_ci(model_values - baseline_values, n_resamples, confidence, seed)
