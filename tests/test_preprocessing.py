import numpy as np
import pytest
from skimage import data

from colorlib.lab import lightness
from colorlib.preprocessing import (
    equalize_adaptive,
    equalize_histogram,
    grey_with_lightness,
    histogram_peak,
    lightness_summary,
    lightness_variants,
    lower_contrast,
    preprocessing_variants,
    stretch_contrast,
)


@pytest.fixture(scope="module")
def photo():
    return data.chelsea()[::4, ::4] / 255.0


def test_lower_contrast_narrows_the_range():
    image = np.linspace(0, 1, 11)
    flat = lower_contrast(image, 0.4)
    assert flat.min() == pytest.approx(0.3) and flat.max() == pytest.approx(0.7)


def test_stretching_fills_the_range():
    flat = lower_contrast(np.linspace(0, 1, 101), 0.4)
    stretched = stretch_contrast(flat, percentiles=(0, 100))
    assert stretched.min() == pytest.approx(0) and stretched.max() == pytest.approx(1)


def test_equalisation_flattens_the_histogram():
    rng = np.random.default_rng(0)
    skewed = rng.beta(2, 8, size=(64, 64))
    counts, _ = np.histogram(equalize_histogram(skewed), bins=8, range=(0, 1))
    assert counts.max() < 2 * counts.min()
    assert equalize_adaptive(skewed).std() > skewed.std()


def test_variants_change_L_only(photo):
    variants = preprocessing_variants(photo)
    assert list(variants) == [
        "original", "low contrast", "contrast stretching", "histogram equalisation", "adaptive equalisation",
    ]
    for image in variants.values():
        assert image.shape == photo.shape and 0 <= image.min() and image.max() <= 1
    L = lightness_variants(photo)
    assert list(L) == list(variants)
    summary = lightness_summary(L)
    assert summary["low contrast"]["std"] < summary["original"]["std"]
    assert summary["contrast stretching"]["std"] > summary["low contrast"]["std"]
    np.testing.assert_allclose(lightness(variants["original"]), lightness(photo), atol=0.05)


def test_histogram_peak_finds_where_most_pixels_lie():
    L = np.concatenate([np.full(100, 30.2), np.full(10, 80.0)])
    assert abs(histogram_peak(L) - 30.2) <= 100 / 64 / 2


def test_summary_counts_pixels_pushed_to_the_ends(photo):
    summary = lightness_summary(lightness_variants(photo))
    assert 0 <= summary["original"]["% at the ends"] <= summary["contrast stretching"]["% at the ends"]
    assert 0 <= summary["original"]["main peak"] <= 100


def test_the_summary_measures_the_channel_itself_not_the_photo_with_its_colour_put_back():
    # Saturated colours out of the screen's gamut: putting them back and clipping moves L*.
    photo = np.zeros((32, 32, 3))
    photo[:, :16] = (0.0, 0.0, 1.0)
    photo[:, 16:] = (1.0, 1.0, 0.0)
    L = lightness_variants(photo)
    stretched = L["contrast stretching"]
    assert lightness_summary(L)["contrast stretching"]["mean"] == pytest.approx(stretched.mean())
    shown = lightness(preprocessing_variants(photo)["contrast stretching"])
    assert np.abs(shown - stretched).max() > 1  # what the old summary measured was not the input
    np.testing.assert_allclose(lightness(grey_with_lightness(stretched)), stretched, atol=1e-3)
