import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

from colorlib.lab import denormalize, lab_to_rgb
from colorlib.metrics import (
    describe_results, disagreements, extremes, format_table, grey_ab, mean_ciede2000, score_images,
    ssim_as_capstone, summarize,
)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    L = torch.from_numpy(rng.uniform(-0.9, 0.9, (3, 1, 24, 24)).astype(np.float32))
    real = torch.from_numpy(rng.uniform(-0.3, 0.3, (3, 2, 24, 24)).astype(np.float32))
    fake = real + torch.from_numpy(rng.normal(0, 0.05, (3, 2, 24, 24)).astype(np.float32))
    return L, fake, real


def test_ssim_matches_the_capstones_scikit_image_call(batch):
    L, fake, real = batch
    fake_rgb, real_rgb = lab_to_rgb(L[0], fake[0]), lab_to_rgb(L[0], real[0])
    expected = structural_similarity(
        fake_rgb, real_rgb, data_range=fake_rgb.max() - fake_rgb.min(), channel_axis=2
    )
    assert ssim_as_capstone(fake_rgb, real_rgb) == pytest.approx(expected, abs=1e-12)


def test_identical_images_score_perfectly(batch):
    L, _, real = batch
    scores = score_images(L, real, real)
    np.testing.assert_allclose(scores["ssim"], 1.0)
    np.testing.assert_allclose(scores["ciede2000"], 0.0, atol=1e-9)


def test_ciede2000_matches_scikit_image(batch):
    L, fake, real = batch
    expected = deltaE_ciede2000(denormalize(L[1], real[1]), denormalize(L[1], fake[1])).mean()
    assert mean_ciede2000(L[1].numpy(), fake[1].numpy(), real[1].numpy()) == pytest.approx(expected)


def test_closer_colour_scores_better_than_grey(batch):
    L, fake, real = batch
    model = score_images(L, fake, real)
    grey = score_images(L, grey_ab(real), real)
    assert (model["ciede2000"] < grey["ciede2000"]).all()
    assert grey_ab(real).abs().sum() == 0


def test_extremes_and_disagreements():
    values = np.array([0.5, 0.9, 0.1, 0.7])
    best, worst = extremes(values, k=2)
    assert list(best) == [1, 3] and list(worst) == [2, 0]
    scores = {"ssim": np.array([0.2, 0.9, 0.3, 0.8]), "ciede2000": np.array([1.0, 9.0, 2.0, 8.0])}
    plausible, wrong = disagreements(scores, k=1)
    assert list(plausible) == [0] and list(wrong) == [1]


def test_summary_and_table():
    summary = {"grey": summarize({"ssim": np.array([0.8, 1.0]), "ciede2000": np.array([10.0, 12.0])})}
    assert summary == {"grey": {"ssim": pytest.approx(0.9), "ciede2000": pytest.approx(11.0)}}
    assert format_table(summary, digits=2).splitlines()[1].split() == ["grey", "0.90", "11.00"]


def test_conclusions_follow_the_numbers():
    summary = {"grey": {"ssim": 0.91, "ciede2000": 11.6}, "gan": {"ssim": 0.88, "ciede2000": 10.9}}
    text = describe_results(summary)
    assert "0.910 (above the capstone's published 0.87)" in text
    assert "lower than grey" in text and "closer to the truth" in text
    summary["gan"]["ciede2000"] = 12.5
    assert "further from the truth" in describe_results(summary)
