"""Bootstrap intervals against a plain loop drawing the same resamples, and their behaviour."""
import numpy as np
import pytest

from colorlib.statistics import bootstrap_ci, paired_bootstrap_ci


def loop_bootstrap(values, n_resamples, confidence, seed):
    """The reference: one resample at a time, drawn from the same generator in the same order."""
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(n_resamples):
        sample = [values[i] for i in rng.integers(0, len(values), size=len(values))]
        means.append(sum(sample) / len(sample))
    low, high = np.percentile(means, [50 * (1 - confidence), 50 * (1 + confidence)])
    return sum(values) / len(values), low, high


def loop_paired_bootstrap(model, baseline, n_resamples, confidence, seed):
    """The reference for pairs: each drawn image brings both its scores."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(n_resamples):
        drawn = rng.integers(0, len(model), size=len(model))
        model_mean = sum(model[i] for i in drawn) / len(drawn)
        differences.append(model_mean - sum(baseline[i] for i in drawn) / len(drawn))
    low, high = np.percentile(differences, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(np.mean(model) - np.mean(baseline)), low, high


@pytest.fixture
def scores():
    rng = np.random.default_rng(1)
    baseline = rng.normal(11.6, 3.0, 40)  # images differ a lot from one another...
    model = baseline - 0.4 + rng.normal(0, 0.3, 40)  # ...the model is a little better on each
    return model, baseline


def test_bootstrap_matches_a_loop_with_the_same_draws(scores):
    values = list(scores[1])
    expected = loop_bootstrap(values, 300, 0.9, 3)
    assert bootstrap_ci(values, 300, 0.9, seed=3) == pytest.approx(expected, abs=1e-12)


def test_paired_bootstrap_matches_a_loop_with_the_same_draws(scores):
    model, baseline = scores
    expected = loop_paired_bootstrap(model, baseline, 300, 0.95, 5)
    assert paired_bootstrap_ci(model, baseline, 300, 0.95, seed=5) == pytest.approx(expected, abs=1e-12)


def test_same_seed_same_interval_other_seed_other_interval(scores):
    values = scores[1]
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)


def test_constant_values_give_a_zero_width_interval():
    mean, low, high = bootstrap_ci(np.full(25, 0.3))
    assert low == high == pytest.approx(mean) == pytest.approx(0.3)
    assert paired_bootstrap_ci(np.full(9, 2.0), np.full(9, 1.5)) == (0.5, 0.5, 0.5)


def test_a_clearly_better_model_excludes_zero_though_the_separate_intervals_overlap(scores):
    model, baseline = scores
    _, model_low, model_high = bootstrap_ci(model)
    _, baseline_low, baseline_high = bootstrap_ci(baseline)
    assert model_high > baseline_low  # on their own, the two means cannot be told apart...
    difference, low, high = paired_bootstrap_ci(model, baseline)
    assert low < difference < high < 0  # ...paired, the model's lower error is clear


def test_wider_confidence_gives_a_wider_interval(scores):
    _, low_90, high_90 = bootstrap_ci(scores[1], confidence=0.9)
    _, low_99, high_99 = bootstrap_ci(scores[1], confidence=0.99)
    assert low_99 < low_90 < high_90 < high_99


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap_ci([1.0, 2.0], [1.0, 2.0, 3.0])
