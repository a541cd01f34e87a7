"""Chroma calibration: scales fitted out of sample, and the calibrated rows of an evaluation."""
import numpy as np
import pytest
import torch

from colorlib.calibration import CHROMA_SCALES, best_scale, chroma_errors, cross_fitted_scales
from colorlib.evaluation import evaluate_calibrated, evaluate_generators, photo_batches
from colorlib.metrics import mean_ciede2000
from colorlib.models import GeneratorSpec, build_generator
from colorlib.predict import predict_ab
from colorlib.runtime import seed_everything
from conftest import colour_photo

SIZE = 64  # the smoke profile's training size
SPEC = GeneratorSpec(SIZE)
SCALES = (0.5, 1.0)


def test_best_scale_has_the_lowest_mean_error():
    errors = [[3.0, 1.0, 2.0], [1.0, 2.0, 2.5]]  # means 2.0 and 1.83
    assert best_scale(errors, SCALES) == 1.0
    assert best_scale([[1.0], [1.0]], SCALES) == 0.5  # the first of equals
    with pytest.raises(ValueError, match=r"one row per scale"):
        best_scale([[1.0, 2.0]], SCALES)


def test_each_image_gets_the_scale_fitted_on_the_others():
    # Image 0 alone is far better faint; the other three are a little better as predicted.
    errors = np.array([[1.0, 5.0, 5.0, 5.0],
                       [20.0, 4.0, 4.0, 4.0]])
    assert best_scale(errors, SCALES) == 0.5  # fitted on all four, image 0 sways it
    chosen = cross_fitted_scales(errors, SCALES, folds=4)  # leave one out
    assert chosen.tolist() == [1.0, 0.5, 0.5, 0.5]
    # Image 0 never chooses its own scale; with it in their fit, the others follow it.
    assert np.array_equal(cross_fitted_scales(errors, SCALES, folds=10), chosen)  # at most one fold per image
    with pytest.raises(ValueError, match="at least 2 images"):
        cross_fitted_scales(errors[:, :1], SCALES)


def test_no_image_scale_depends_on_its_own_errors():
    scales = (0.0, 0.5, 1.0)
    errors = np.random.default_rng(1).uniform(5, 6, (3, 12))
    chosen = cross_fitted_scales(errors, scales, folds=3)
    for i in range(12):
        for favourite in range(3):  # make image i overwhelmingly prefer each scale in turn
            swayed = errors.copy()
            swayed[:, i] = 1000.0
            swayed[favourite, i] = 0.0
            assert cross_fitted_scales(swayed, scales, folds=3)[i] == chosen[i]


def test_chroma_errors_are_the_ciede2000_of_the_scaled_colours():
    rng = np.random.default_rng(0)
    L = rng.uniform(-1, 1, (2, 1, 8, 8)).astype(np.float32)
    fake, real = (rng.uniform(-0.5, 0.5, (2, 2, 8, 8)).astype(np.float32) for _ in range(2))
    errors = chroma_errors(L, fake, real, scales=(0.0, 0.5, 1.0))
    assert errors.shape == (3, 2)
    for i in range(2):
        assert errors[0, i] == mean_ciede2000(L[i], 0 * fake[i], real[i])  # scale 0: grey
        assert errors[2, i] == mean_ciede2000(L[i], fake[i], real[i])


@pytest.fixture(scope="module")
def generator():
    seed_everything(0)
    return build_generator(SIZE, imagenet_weights="never", verbose=False)[0]


def test_the_calibrated_row_scores_each_photo_with_its_out_of_sample_scale(generator, tmp_path):
    photos = [tmp_path / f"photo{seed}.png" for seed in range(4)]
    for seed, path in enumerate(photos):
        colour_photo(seed=seed).save(path)
    scores, calibration = evaluate_calibrated({"pretrained": (generator, SPEC)}, photos, SIZE, batch_size=3, folds=4)
    plain = evaluate_generators({"pretrained": (generator, SPEC)}, photos, SIZE, batch_size=3)["pretrained"]
    calibrated = scores["pretrained_calibrated"]
    assert set(calibrated) == set(plain) and calibrated["ciede2000"].shape == (4,)
    batch = next(iter(photo_batches(photos, SIZE, 4)))
    errors = chroma_errors(batch["L"], predict_ab(generator, batch["L"], spec=SPEC), batch["ab"])
    chosen = cross_fitted_scales(errors, folds=4)
    expected = errors[[CHROMA_SCALES.index(s) for s in chosen], np.arange(4)]
    np.testing.assert_allclose(calibrated["ciede2000"], expected, rtol=1e-6)
    assert calibration["chosen"]["pretrained"] == best_scale(errors)
    np.testing.assert_allclose(calibration["mean_ciede2000"]["pretrained"], errors.mean(axis=1), rtol=1e-6)
    assert calibration["scales"] == list(CHROMA_SCALES) and calibration["folds"] == 4


def test_calibration_starts_from_the_colours_as_predicted(generator, tmp_path):
    photos = [tmp_path / f"photo{seed}.png" for seed in range(3)]
    for seed, path in enumerate(photos):
        colour_photo(seed=seed).save(path)
    plain_scores, plain = evaluate_calibrated({"pretrained": (generator, SPEC)}, photos, SIZE, batch_size=3)
    faint = SPEC.replace(chroma_scale=0.5)  # as an export calibrated before carries it
    scores, calibration = evaluate_calibrated({"model": (generator, faint)}, photos, SIZE, batch_size=3)
    assert calibration["chosen"]["model"] == plain["chosen"]["pretrained"] and calibration["folds"] == 3
    np.testing.assert_array_equal(scores["model_calibrated"]["ciede2000"],
                                  plain_scores["pretrained_calibrated"]["ciede2000"])


def test_a_spec_chroma_scale_scales_the_predictions(generator):
    L = torch.linspace(-1, 1, 2 * SIZE * SIZE).view(2, 1, SIZE, SIZE)
    plain = predict_ab(generator, L)
    assert torch.equal(predict_ab(generator, L, spec=SPEC), plain)
    assert torch.equal(predict_ab(generator, L, spec=SPEC.replace(chroma_scale=0.5)), 0.5 * plain)
    assert torch.equal(predict_ab(generator, L, spec=SPEC.replace(chroma_scale=0)), torch.zeros_like(plain))


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), True, "half"])
def test_a_spec_refuses_a_chroma_scale_that_is_not_a_finite_number_at_least_zero(bad):
    with pytest.raises(ValueError, match="expected a finite number >= 0"):
        SPEC.replace(chroma_scale=bad)
