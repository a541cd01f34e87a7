"""The course's stages end to end on the smoke profile: files handed from stage to stage."""
import json

import numpy as np
import pytest
import torch

from colorlib import checkpoints, stages
from colorlib.config import get_config
from colorlib.evaluation import evaluate_run, examples, run_generators
from conftest import colour_photo, write_awkward_files

pytestmark = pytest.mark.slow  # every test here shares one whole smoke run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A whole smoke run over a folder of 8 colour photos mixed with every awkward kind of file.

    Photos are held at 64 px and the generator trains at 32 px on random crops of them, under the
    one-cycle schedule, so that every path of the cpu profile runs.
    """
    data = tmp_path_factory.mktemp("photos")
    write_awkward_files(data)
    for seed in range(8):
        colour_photo(size=(96, 80), seed=10 + seed).save(data / f"photo{seed}.png")
    (data / "copy_of_photo0.png").write_bytes((data / "photo0.png").read_bytes())
    run_dir = tmp_path_factory.mktemp("run")
    config = get_config("smoke", data=str(data), n_images=0, gan_epochs=1, display_every=1, size=32,
                        load_size=64, crop_scale=0.5, pretrain_schedule="one_cycle", gan_batch_size=2, disc_filters=16)
    split = stages.make_split(config, run_dir, log=lambda line: None)
    generator, weights = stages.new_generator(config, verbose=False)
    pretrain_history = stages.pretrain(generator, split, config, run_dir, weights, log=lambda line: None)
    shown = []
    _, gan_history = stages.train_gan(split, config, run_dir, show=shown.append, log=lambda line: None)
    return config, run_dir, split, pretrain_history, gan_history, shown


def test_split_is_written_and_read_back(run):
    config, run_dir, split, *_ = run
    assert stages.load_split(run_dir) == split
    assert len(split.train) == 9 and len(split.val) == 3  # 8 photos + 4 usable awkward files
    assert split.counts["found"] == 20 and split.counts["kept"] == 12
    assert split.counts["excluded"]["duplicate"] == 1 and split.counts["excluded"]["greyscale"] == 2


def test_manifest_lists_every_file_with_its_fate(run):
    _, run_dir, split, *_ = run
    rows = (run_dir / checkpoints.MANIFEST_FILE).read_text().splitlines()
    assert rows[0] == "file,bytes,width,height,split,sha256" and len(rows) == 21
    fates = {row.split(",")[0]: row.split(",")[4] for row in rows[1:]}
    photo3 = next(row.split(",") for row in rows if row.startswith("photo3.png,"))
    assert int(photo3[1]) > 0 and photo3[2:4] == ["96", "80"] and len(photo3[5]) == 64
    assert fates["truncated.jpg"] == "excluded: truncated"
    assert fates["copy_of_photo0.png"] == "excluded: duplicate" or fates["photo0.png"] == "excluded: duplicate"
    assert sum(f in ("train", "val") for f in fates.values()) == 12


def test_missing_split_says_which_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebook 01"):
        stages.load_split(tmp_path)


def test_training_writes_checkpoints_and_histories(run):
    config, run_dir, split, pretrain_history, gan_history, shown = run
    assert [r["epoch"] for r in pretrain_history] == [1, 2]
    assert set(pretrain_history[0]) >= {"L1", "val_L1", "grey_L1", "seconds"}
    assert pretrain_history[0]["grey_L1"] == pretrain_history[1]["grey_L1"] > 0  # one fixed validation batch
    assert pretrain_history[1]["val_L1"] != pretrain_history[0]["val_L1"] and pretrain_history[0]["seconds"] > 0
    steps = len(split.train) // config.batch_size
    for epoch, record in enumerate(pretrain_history, start=1):  # the epoch's end is its last check
        assert record["checks"][-1] == {"step": epoch * steps, "val_L1": record["val_L1"], "grey_L1": record["grey_L1"]}
        assert len(record["step_losses"]["L1"]) == steps
        # The speed logged is the photos seen over the epoch's seconds, checks left out, as a reader recomputes it.
        assert record["images_per_s"] == pytest.approx(steps * config.batch_size / record["seconds"])
    assert set(gan_history[0]) >= {"D_fake", "D_real", "D", "G_GAN", "G_L1", "G", "val_ssim", "seconds"}
    steps = len(split.train) // config.gan_batch_size  # the GAN's own batch, not pretraining's
    assert gan_history[0]["seconds"] > 0 and len(gan_history[0]["step_losses"]["D"]) == steps
    assert json.loads((run_dir / stages.GAN_HISTORY_FILE).read_text()) == gan_history
    state = torch.load(run_dir / stages.GAN_FILE, weights_only=True)
    assert set(state) >= {"generator", "discriminator", "opt_G", "opt_D", "config", "weights"}
    assert state["weights"] == "random"
    assert state["discriminator"]["model.0.weight"].shape[0] == config.disc_filters
    assert len(shown) == len(split.train) // config.gan_batch_size  # one Gray / Fake / Real per step


def test_evaluation_scores_both_baselines_and_both_generators(run):
    config, run_dir, split, *_ = run
    metrics, scores = evaluate_run(split, config, run_dir, log=lambda line: None)
    assert list(scores) == ["grey", "mean_ab", "pretrained", "gan", "pretrained_calibrated", "gan_calibrated"]
    assert metrics["n_images"] == 3 and len(scores["gan"]["ssim"]) == 3
    assert set(metrics["calibration"]["chosen"]) == {"pretrained", "gan"}
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["summary"]["grey"]["ssim"]["mean"] == pytest.approx(np.mean(scores["grey"]["ssim"]))
    assert (run_dir / "per_image.csv").read_text().count("\n") == 1 + 3 * 6
    assert metrics["size"] == 64  # scored at the photos' size, coloured at the generator's 32 px
    figures = examples(split.val[:2], run_generators(run_dir), config.photo_size)
    assert figures["gan"].shape == figures["ab"].shape == (2, 2, 64, 64)


def test_same_seed_same_weights(run, tmp_path):
    config, run_dir, split, pretrain_history, *_ = run
    generator, weights = stages.new_generator(config, verbose=False)
    again = stages.pretrain(generator, split, config, tmp_path, weights, log=lambda line: None)
    assert [r["L1"] for r in again] == [r["L1"] for r in pretrain_history]
    first = torch.load(run_dir / stages.PRETRAINED_FILE, weights_only=True)["generator"]
    second = torch.load(tmp_path / stages.PRETRAINED_FILE, weights_only=True)["generator"]
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_pretraining_is_described_from_its_history():
    history = [{"epoch": 1, "val_L1": 0.2, "grey_L1": 0.15, "seconds": 2.0},
               {"epoch": 2, "val_L1": 0.1, "grey_L1": 0.15, "seconds": 3.5}]
    text = stages.describe_pretraining(history, 5)
    assert "0.2000 after epoch 1 to 0.1000 after epoch 2, below the 0.1500" in text and "On 5 validation" in text
    assert "not below" in stages.describe_pretraining([{**history[0], "val_L1": 0.3}], 5)
    assert "resume=False" in stages.describe_pretraining([{"epoch": 1, "L1": 0.2}], 5)
    one_epoch = [{**history[1], "epoch": 1, "checks": [{"step": 40, "val_L1": 0.25}, {"step": 80, "val_L1": 0.12}]}]
    assert "from 0.2500 at step 40 to 0.1000 after epoch 1" in stages.describe_pretraining(one_epoch, 5)
    assert stages.training_seconds(history) == 5.5 and stages.training_seconds([{"epoch": 1}]) is None


def test_a_split_without_its_validation_photos_is_refused_naming_the_file(tmp_path):
    fields = {"source": "s", "reason": "r", "train": [], "digests": {}, "counts": {}}  # no "val"
    (tmp_path / stages.SPLIT_FILE).write_text(json.dumps(fields))
    with pytest.raises(ValueError, match=r"split\.json holds .*expected the fields .*'val'.*notebook 01"):
        stages.load_split(tmp_path)


def test_a_split_that_is_not_json_is_refused_naming_the_file(tmp_path):
    (tmp_path / stages.SPLIT_FILE).write_text('{"source": "s", "train": [')
    with pytest.raises(ValueError, match=r"split\.json is not valid JSON"):
        stages.load_split(tmp_path)
