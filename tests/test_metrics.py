"""The metrics, each against an independent reference; summaries, tables and conclusions."""
import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorlib.lab import AB_SCALE, denormalize, lab_to_rgb
from colorlib.metrics import (
    HIGHER_IS_BETTER,
    PSNR_MAX,
    ab_auc,
    colourfulness,
    disagreements,
    extremes,
    grey_ab,
    mean_ciede2000,
    psnr,
    right_hue,
    score_images,
    summarize_with_ci,
)
from colorlib.tables import format_ci_table, format_table


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    L = torch.from_numpy(rng.uniform(-0.9, 0.9, (3, 1, 24, 24)).astype(np.float32))
    real = torch.from_numpy(rng.uniform(-0.3, 0.3, (3, 2, 24, 24)).astype(np.float32))
    fake = real + torch.from_numpy(rng.normal(0, 0.05, (3, 2, 24, 24)).astype(np.float32))
    return L, fake, real


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


def test_table():
    summary = {"grey": {"ssim": 0.9, "ciede2000": 11.0}}
    assert format_table(summary, digits=2).splitlines()[1].split() == ["grey", "0.90", "11.00"]


def test_score_images_gives_every_metric_with_a_direction(batch):
    scores = score_images(*batch)
    assert set(scores) == set(HIGHER_IS_BETTER)
    assert all(values.shape == (3,) for values in scores.values())


def test_batched_ssims_match_scikit_image_image_by_image(batch):
    L, fake, real = batch
    scores = score_images(L, fake, real)
    fake_rgb, real_rgb = lab_to_rgb(L, fake), lab_to_rgb(L, real)
    fake_ab, real_ab = (AB_SCALE * ab.numpy().transpose(0, 2, 3, 1) for ab in (fake, real))
    for i in range(3):
        assert scores["ssim"][i] == pytest.approx(ssim_as_capstone(fake_rgb[i], real_rgb[i]), abs=1e-4)
        fixed = structural_similarity(fake_rgb[i], real_rgb[i], data_range=1.0, channel_axis=2)
        assert scores["ssim_fixed"][i] == pytest.approx(fixed, abs=1e-4)
        ab = structural_similarity(fake_ab[i], real_ab[i], data_range=2 * AB_SCALE, channel_axis=2)
        assert scores["ssim_ab"][i] == pytest.approx(ab, abs=1e-4)


def test_psnr_matches_scikit_image_and_is_capped_for_identical_images(batch):
    L, fake, real = batch
    fake_rgb, real_rgb = lab_to_rgb(L, fake), lab_to_rgb(L, real)
    expected = [peak_signal_noise_ratio(r, f, data_range=1.0) for f, r in zip(fake_rgb, real_rgb)]
    np.testing.assert_allclose(psnr(fake_rgb, real_rgb), expected)
    assert psnr(real_rgb, real_rgb).tolist() == [PSNR_MAX] * 3


def loop_auc(fake_ab, real_ab):
    """The reference AuC of one image: a pixel loop, then the curve's trapezoids summed one by one."""
    a, b = AB_SCALE * np.asarray(fake_ab, np.float64), AB_SCALE * np.asarray(real_ab, np.float64)
    errors = [np.sqrt((a[0, y, x] - b[0, y, x]) ** 2 + (a[1, y, x] - b[1, y, x]) ** 2)
              for y in range(a.shape[1]) for x in range(a.shape[2])]
    curve = [sum(e <= t for e in errors) / len(errors) for t in range(151)]
    return sum((curve[t] + curve[t + 1]) / 2 for t in range(150)) / 150


def test_auc_matches_a_plain_loop(batch):
    _, fake, real = batch
    expected = [loop_auc(f, r) for f, r in zip(fake[:, :, :8, :8], real[:, :, :8, :8])]
    np.testing.assert_allclose(ab_auc(fake[:, :, :8, :8].numpy(), real[:, :, :8, :8].numpy()), expected)


def test_auc_of_exact_constant_and_hopeless_errors():
    real = np.zeros((2, 4, 4))
    assert ab_auc(real, real) == 1.0
    off_by_75 = np.stack([np.full((4, 4), 75 / AB_SCALE), np.zeros((4, 4))])  # every pixel 75 away
    assert ab_auc(off_by_75, real) == pytest.approx(75.5 / 150)  # in from t = 75, half the step's trapezoid
    assert ab_auc(np.full((2, 4, 4), 2.0), real) == 0.0  # 311 away: beyond every threshold


def test_right_hue_counts_clearly_coloured_pixels_painted_within_30_degrees():
    def ab(*pixels):  # (a*, b*) pairs in natural units, as a normalised (2, 1, n) image
        return np.array(pixels, np.float64).T.reshape(2, 1, -1) / AB_SCALE

    real = ab((30, 0), (0, 30), (-20, -20), (5, 5))  # three clearly coloured pixels, one nearly grey
    assert right_hue(np.zeros_like(real), real) == 0  # grey paints none
    assert right_hue(real, real) == 1  # the nearly grey pixel does not count
    turned = 25 / 180 * np.pi  # each coloured pixel's hue turned by 25 degrees, its chroma halved
    rotated = np.stack([0.5 * (np.cos(turned) * real[0] - np.sin(turned) * real[1]),
                        0.5 * (np.sin(turned) * real[0] + np.cos(turned) * real[1])])
    assert right_hue(rotated, real) == 1
    fake = ab((30, 20), (0, 4), (20, 20), (-5, -5))  # 34 degrees off; too faint; opposite; not counted
    assert right_hue(fake, real) == 0
    assert right_hue(ab((30, 10), (0, 30), (0, 0), (0, 0)), real) == pytest.approx(2 / 3)
    assert right_hue(ab((1, 1)), ab((1, 1))) == 0  # no clearly coloured pixel: 0 for every prediction
    assert right_hue(np.stack([real, real]), np.stack([real, np.zeros_like(real)])).tolist() == [1, 0]


def loop_colourfulness(rgb):
    """The reference: Hasler and Suesstrunk's formula over a list of pixels, with plain python."""
    pixels = [255 * p for p in rgb.reshape(-1, 3)]
    rg = [r - g for r, g, _ in pixels]
    yb = [(r + g) / 2 - b for r, g, b in pixels]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    std = lambda v: np.sqrt(mean([(x - mean(v)) ** 2 for x in v]))  # noqa: E731
    return np.sqrt(std(rg) ** 2 + std(yb) ** 2) + 0.3 * np.sqrt(mean(rg) ** 2 + mean(yb) ** 2)


def test_colourfulness_matches_the_formula_and_its_gap_is_prediction_minus_truth(batch):
    L, fake, real = batch
    fake_rgb, real_rgb = lab_to_rgb(L, fake), lab_to_rgb(L, real)
    np.testing.assert_allclose(colourfulness(fake_rgb), [loop_colourfulness(image) for image in fake_rgb])
    assert colourfulness(np.full((5, 5, 3), 0.4)) == 0.0
    scores = score_images(L, grey_ab(real), real)
    np.testing.assert_allclose(scores["colourfulness_gap"], scores["colourfulness"] - colourfulness(real_rgb))
    assert (scores["colourfulness_gap"] < 0).all()  # grey is duller than any colour photo


@pytest.fixture
def scores_by_model():
    """Per-image scores of grey and a model that is clearly better on CIEDE2000 only."""
    rng = np.random.default_rng(0)
    grey = {"ssim": rng.normal(0.91, 0.02, 30), "ciede2000": rng.normal(11.6, 2.0, 30),
            "colourfulness_gap": rng.normal(-30, 5, 30)}
    model = {"ssim": grey["ssim"] + rng.normal(0, 0.01, 30),
             "ciede2000": grey["ciede2000"] - 0.7 + rng.normal(0, 0.2, 30),
             "colourfulness_gap": grey["colourfulness_gap"] + 10}
    return {"grey": grey, "gan": model}


def test_summary_with_intervals_and_paired_differences(scores_by_model):
    summary = summarize_with_ci(scores_by_model)
    grey, gan = summary["grey"], summary["gan"]
    assert set(grey["ciede2000"]) == {"mean", "low", "high"}
    assert gan["ciede2000"]["mean"] == pytest.approx(np.mean(scores_by_model["gan"]["ciede2000"]))
    assert gan["ciede2000"]["difference_high"] < 0  # lower error: better
    assert gan["ciede2000"]["beats_baseline"] is True
    assert gan["ssim"]["difference_low"] < 0 < gan["ssim"]["difference_high"]
    assert gan["ssim"]["beats_baseline"] is False
    assert gan["colourfulness_gap"]["beats_baseline"] is None  # no better direction
    with pytest.raises(ValueError, match="baseline"):
        summarize_with_ci(scores_by_model, baseline="mean_ab")


def test_ci_table_cells_and_the_old_table_shape_still_works():
    row = {"mean": 0.9124, "low": 0.9051, "high": 0.9178}
    summary = {"grey": {"ssim": row}, "gan": {"ssim": {**row, "difference": 0.01, "difference_low": 0.002,
                                                       "difference_high": 0.02, "beats_baseline": True}}}
    lines = format_ci_table(summary).splitlines()
    assert lines[0].split() == ["grey", "gan", "gan", "-", "grey"]
    assert lines[1].startswith("ssim (higher is better)")
    assert "0.912 [0.905, 0.918]" in lines[1] and "0.010 [0.002, 0.020] *" in lines[1]
    wide = format_table({"grey": {"colourfulness_gap": -31.5}}, digits=1).splitlines()
    assert wide[0].endswith("colourfulness_gap") and wide[1].split() == ["grey", "-31.5"]


