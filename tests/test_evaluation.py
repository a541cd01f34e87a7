"""The evaluate command end to end: a random-weight generator scored on a folder of small PNGs."""
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorlib.cache import file_digest
from colorlib.checkpoints import METRICS_FILE, PER_IMAGE_FILE, SPLIT_FILE, save_checkpoint
from colorlib.config import get_config
from colorlib.dataset import ColorizationDataset
from colorlib.evaluate_checkpoint import evaluate_command
from colorlib.evaluation import dataset_ab_mean, evaluate_generators, mean_ab_baseline, training_ab_mean
from colorlib.metrics import HIGHER_IS_BETTER, mean_ciede2000
from colorlib.models import GeneratorSpec, build_generator
from colorlib.predict import predict_ab
from colorlib.runtime import seed_everything
from colorlib.shipping import preference, shipped_row
from colorlib.sources import relative_names
from colorlib.splits import Split

SIZE = 64  # the smoke profile's training size
SPEC = GeneratorSpec(SIZE)


def write_photos(folder, n=3):
    """Smooth colour gradients with a little noise, one per seed: small, colourful, distinct."""
    folder.mkdir()
    paths = []
    for seed in range(n):
        rng = np.random.default_rng(seed)
        ramp = np.linspace(0, 1, 40)[None, :, None] * rng.uniform(0, 255, 3) + rng.uniform(0, 60, 3)
        image = np.clip(ramp + rng.normal(0, 8, (40, 40, 3)), 0, 255).astype(np.uint8)
        paths.append(folder / f"photo_{seed}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A random-weight generator, its checkpoint in a run folder, and a folder of photos to score."""
    root = tmp_path_factory.mktemp("evaluation")
    seed_everything(0)
    generator, _ = build_generator(SIZE, imagenet_weights="never", verbose=False)
    checkpoint = root / "run" / "generator_pretrained.pt"
    save_checkpoint(checkpoint, generator=generator.state_dict(), config=get_config("smoke").asdict(),
                    weights="random", stage="pretrain")
    return generator, checkpoint, write_photos(root / "photos")


@pytest.fixture(scope="module")
def evaluated(run, tmp_path_factory):
    """evaluate_command with a split.json beside the checkpoint naming two of the photos as training."""
    _, checkpoint, photos = run
    (checkpoint.parent / SPLIT_FILE).write_text(json.dumps({"train": [str(p) for p in photos[:2]], "val": []}))
    out_dir = tmp_path_factory.mktemp("out")
    lines = []
    metrics = evaluate_command(checkpoint, str(photos[0].parent), out_dir, batch_size=2, device="cpu",
                               log=lines.append)
    (checkpoint.parent / SPLIT_FILE).unlink()
    return metrics, out_dir, lines


def test_mean_ab_baseline_predicts_the_mean_everywhere():
    prediction = mean_ab_baseline([0.1, -0.2], (3, 2, 5, 4))
    assert prediction.shape == (3, 2, 5, 4) and prediction.dtype == torch.float32
    assert torch.equal(prediction[:, 0], torch.full((3, 5, 4), 0.1))
    assert torch.equal(prediction[:, 1], torch.full((3, 5, 4), -0.2))


def test_dataset_ab_mean_is_the_mean_over_every_pixel(run):
    *_, photos = run
    items = ColorizationDataset(photos, "val", SIZE)
    expected = torch.stack([items[i]["ab"] for i in range(len(items))]).double().mean(dim=(0, 2, 3))
    np.testing.assert_allclose(dataset_ab_mean(photos, SIZE, batch_size=2), expected.numpy(), rtol=1e-6)


def test_the_training_mean_from_the_cache_is_the_decoded_photos_mean(run, tmp_path):
    *_, photos = run
    split = Split(train=photos, val=photos[:1], source="folder", reason="test",
                  digests={str(p): file_digest(p) for p in photos}, counts={})
    cached = get_config("smoke", size=SIZE, cache_dir=str(tmp_path / "cache"))
    expected = dataset_ab_mean(photos, SIZE, batch_size=2)
    np.testing.assert_allclose(training_ab_mean(split, cached), expected, atol=1e-4)
    assert training_ab_mean(split, cached.replace(cache=False)) == expected
    assert len(list((tmp_path / "cache").rglob("*.pt"))) == len(photos)  # the cache was the source


def test_names_are_relative_to_the_shared_folder(tmp_path):
    paths = [tmp_path / "a" / "x.png", tmp_path / "a" / "b" / "x.png"]
    assert relative_names(paths) == ["x.png", "b/x.png"]


def test_writes_means_with_intervals_for_the_model_and_both_baselines(evaluated):
    metrics, out_dir, lines = evaluated
    saved = json.loads((out_dir / METRICS_FILE).read_text())
    assert saved == metrics
    assert saved["checkpoint"] == "generator_pretrained.pt"  # no machine paths in the results
    assert saved["n_images"] == 3 and saved["size"] == SIZE and saved["weights"] == "random"
    assert saved["training_images_scored"] == 2
    assert list(saved["summary"]) == ["grey", "mean_ab", "pretrained", "pretrained_calibrated"]
    calibration = saved["calibration"]
    curve = calibration["mean_ciede2000"]["pretrained"]
    assert calibration["chosen"]["pretrained"] == calibration["scales"][int(np.argmin(curve))]
    assert calibration["folds"] == 3  # one per image when there are fewer than 10
    assert any("(3-fold cross-fitting)" in line for line in lines)
    assert saved["higher_is_better"] == HIGHER_IS_BETTER
    row = saved["summary"]["pretrained"]["ciede2000"]
    assert row["low"] <= row["mean"] <= row["high"]
    assert row["beats_baseline"] is None and saved["verdicts_withheld"].startswith("3 images")  # too few for one
    assert "difference" not in saved["summary"]["grey"]["ciede2000"]
    assert any("2 of these images were training images" in line for line in lines)
    assert any(line.startswith("ssim (higher is better)") for line in "\n".join(lines).splitlines())


def test_per_image_rows_match_a_direct_evaluation(run, evaluated):
    generator, _, photos = run
    _, out_dir, _ = evaluated
    with open(out_dir / PER_IMAGE_FILE, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["file"], r["model"]) for r in rows] == [
        (p.name, model) for p in photos for model in ("grey", "mean_ab", "pretrained", "pretrained_calibrated")
    ]
    assert set(rows[0]) == {"file", "model", *HIGHER_IS_BETTER}
    direct = evaluate_generators({"pretrained": (generator, SPEC)}, photos, SIZE, batch_size=2)
    model_rows = [r for r in rows if r["model"] == "pretrained"]
    written = [float(r["ciede2000"]) for r in model_rows]
    np.testing.assert_allclose(written, direct["pretrained"]["ciede2000"], rtol=1e-12)


@pytest.mark.slow
def test_an_export_is_scored_at_its_scale_and_calibrated_from_the_colours_as_predicted(run, tmp_path):
    _, checkpoint, photos = run
    export = tmp_path / "colorizer.pt"
    save_checkpoint(export, **torch.load(checkpoint, weights_only=True), spec=SPEC.replace(chroma_scale=0.5).asdict())
    lines = []
    scored = [evaluate_command(path, str(photos[0].parent), tmp_path / path.stem, batch_size=2, device="cpu",
                               log=lines.append)["summary"] for path in (checkpoint, export)]
    assert scored[1]["pretrained"]["ciede2000"]["mean"] != scored[0]["pretrained"]["ciede2000"]["mean"]
    assert scored[1]["pretrained_calibrated"] == scored[0]["pretrained_calibrated"]
    assert any(line.startswith("note: this export paints its colours scaled by 0.5") for line in lines)


def test_without_a_split_there_is_no_mean_ab_baseline(run, tmp_path):
    _, checkpoint, photos = run
    lines = []
    metrics = evaluate_command(checkpoint, str(photos[0].parent), tmp_path, batch_size=2, device="cpu",
                               log=lines.append)
    assert list(metrics["summary"]) == ["grey", "pretrained", "pretrained_calibrated"]
    assert any("no mean_ab baseline" in line for line in lines)


def test_without_data_the_runs_validation_split_is_scored(run, tmp_path):
    _, checkpoint, photos = run
    (checkpoint.parent / SPLIT_FILE).write_text(json.dumps({"train": [str(p) for p in photos[:2]],
                                                            "val": [str(photos[2])]}))
    try:
        metrics = evaluate_command(checkpoint, None, tmp_path, batch_size=2, device="cpu", log=lambda line: None)
    finally:
        (checkpoint.parent / SPLIT_FILE).unlink()
    assert metrics["n_images"] == 1 and metrics["data"] == "validation split"
    assert metrics["calibration"] is None  # one image: no other to fit its scale on
    assert "pretrained_calibrated" not in metrics["summary"]
    assert metrics["training_images_scored"] == 0 and "mean_ab" in metrics["summary"]
    with pytest.raises(FileNotFoundError, match="name the images to score with --data"):
        evaluate_command(checkpoint, None, tmp_path, device="cpu", log=lambda line: None)


def test_a_generator_sees_images_at_its_training_size(tmp_path):
    seed_everything(0)
    generator, _ = build_generator(32, imagenet_weights="never", verbose=False)
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    spec = GeneratorSpec(32)
    ab = predict_ab(generator, L, spec=spec)
    assert ab.shape == (2, 2, 64, 64)
    small = torch.nn.functional.interpolate(L, size=(32, 32), mode="bilinear", antialias=True)
    expected = torch.nn.functional.interpolate(predict_ab(generator, small), size=(64, 64), mode="bilinear")
    torch.testing.assert_close(ab, expected)
    # Scored at 40 px, the 32 px generator's colours are predicted at 32 px and laid onto 40 px L.
    photos = write_photos(tmp_path / "photos", n=2)
    scores = evaluate_generators({"model": (generator, spec)}, photos, 40)
    batch = {"L": torch.stack([item["L"] for item in ColorizationDataset(photos, "val", 40)])}
    direct = predict_ab(generator, batch["L"], spec=spec)
    ab_true = torch.stack([item["ab"] for item in ColorizationDataset(photos, "val", 40)])
    np.testing.assert_allclose(scores["model"]["ciede2000"],
                               [mean_ciede2000(batch["L"][i].numpy(), direct[i].numpy(), ab_true[i].numpy())
                                for i in range(2)], rtol=1e-5)


def _summary(rows, truth=40.0):
    """A metrics.json summary: {row: (ciede2000 difference interval, auc difference interval, colourfulness)}."""
    summary = {"grey": {"colourfulness": {"mean": 0.0}, "colourfulness_gap": {"mean": -truth}}}
    for name, (ciede, auc, colour) in rows.items():
        summary[name] = {"ciede2000": {"difference_low": ciede[0], "difference_high": ciede[1]},
                         "auc": {"difference_low": auc[0], "difference_high": auc[1]},
                         "colourfulness": {"mean": colour}}
    return {"summary": summary, "calibration": {"chosen": {"pretrained": 0.5, "gan": 0.0}}}


def test_the_shipped_row_is_the_most_colourful_that_beats_grey_honestly():
    better, unclear, worse = (-0.5, -0.1), (-0.2, 0.2), (0.1, 0.5)
    auc_better, auc_unclear = (0.001, 0.01), (-0.01, 0.01)
    rows = {"pretrained": (better, auc_better, 21.0), "gan": (unclear, auc_better, 30.0),
            "pretrained_calibrated": (better, auc_better, 10.0), "gan_calibrated": (better, auc_better, 0.0)}
    # The GAN does not lose on CIEDE2000 and is the most colourful; the calibrated rows are too
    # grey, and a scale of 0 does not compete at all.
    assert shipped_row(_summary(rows)) == ("gan", True)
    assert shipped_row(_summary({**rows, "gan": (worse, auc_better, 30.0)})) == ("pretrained", True)
    # Below half the photos' colourfulness nothing qualifies: then the most colourful row that
    # does not lose on AuC, said to miss the rule.
    grey_rows = {"pretrained": (better, auc_better, 12.0), "gan": (worse, auc_unclear, 19.0)}
    assert shipped_row(_summary(grey_rows)) == ("gan", False)
    assert shipped_row({"summary": {"grey": {}}}) is None


def test_rows_that_tie_on_colour_ship_by_preference_not_by_noise():
    # Two qualifying rows whose colourfulness differs inside its paired interval: the GAN, the later
    # stage, ships even when the pretrained row's mean is higher; a difference the interval can
    # tell apart still ships the more colourful.
    better, auc_better = (-0.5, -0.1), (0.001, 0.01)
    rng = np.random.default_rng(0)
    gan = rng.normal(30.0, 5.0, 100)
    tied = {"gan": {"colourfulness": gan}, "pretrained": {"colourfulness": gan + rng.normal(0.3, 3.0, 100)}}
    apart = {"gan": {"colourfulness": gan}, "pretrained": {"colourfulness": gan + 4.0 + rng.normal(0, 1.0, 100)}}
    def summary(scores):
        return _summary({name: (better, auc_better, float(row["colourfulness"].mean())) for name, row in scores.items()})
    assert shipped_row(summary(tied)) == ("pretrained", True)  # without the photos' scores: the higher mean
    assert shipped_row(summary(tied), scores=tied) == ("gan", True)
    assert shipped_row(summary(apart), scores=apart) == ("pretrained", True)
    assert sorted(["pretrained_calibrated", "gan", "pretrained", "gan_calibrated"], key=preference) == [
        "gan", "gan_calibrated", "pretrained", "pretrained_calibrated"]
