"""The course's stages end to end on the smoke profile: files handed from stage to stage."""
import json

import numpy as np
import pytest
import torch

from colorlib import stages
from colorlib.config import get_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    config = get_config("smoke", gan_epochs=1, display_every=1)
    split = stages.make_split(config, run_dir)
    generator, weights = stages.new_generator(config, verbose=False)
    pretrain_history = stages.pretrain(generator, split, config, run_dir, weights, log=lambda line: None)
    shown = []
    _, gan_history = stages.train_gan(split, config, run_dir, show=shown.append, log=lambda line: None)
    return config, run_dir, split, pretrain_history, gan_history, shown


def test_split_is_written_and_read_back(run):
    config, run_dir, split, *_ = run
    assert stages.load_split(run_dir) == split
    assert len(split.train) == 6 and len(split.val) == 2


def test_missing_split_says_which_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebook 01"):
        stages.load_split(tmp_path)


def test_training_writes_checkpoints_and_histories(run):
    config, run_dir, _, pretrain_history, gan_history, shown = run
    assert [r["epoch"] for r in pretrain_history] == [1, 2]
    assert set(gan_history[0]) >= {"D_fake", "D_real", "D", "G_GAN", "G_L1", "G", "val_ssim"}
    assert json.loads((run_dir / stages.GAN_HISTORY_FILE).read_text()) == gan_history
    state = torch.load(run_dir / stages.GAN_FILE, weights_only=True)
    assert set(state) >= {"generator", "discriminator", "opt_G", "opt_D", "config", "weights"}
    assert state["weights"] == "random"
    assert len(shown) == len(gan_history)  # one Gray / Fake / Real figure per step here


def test_evaluation_scores_grey_and_both_generators(run):
    config, run_dir, split, *_ = run
    scores, batch = stages.evaluate(split, config, run_dir)
    assert list(scores) == ["grey", "pretrained", "gan"]
    assert batch["gan"].shape == batch["ab"].shape == (2, 2, 64, 64)
    metrics = stages.save_metrics(run_dir, scores, config)
    assert metrics["n_images"] == 2
    saved = json.loads((run_dir / stages.METRICS_FILE).read_text())
    assert saved["mean"]["grey"]["ssim"] == pytest.approx(np.mean(scores["grey"]["ssim"]))


def test_same_seed_same_weights(run, tmp_path):
    config, run_dir, split, pretrain_history, *_ = run
    generator, weights = stages.new_generator(config, verbose=False)
    again = stages.pretrain(generator, split, config, tmp_path, weights, log=lambda line: None)
    assert [r["L1"] for r in again] == [r["L1"] for r in pretrain_history]
    first = torch.load(run_dir / stages.PRETRAINED_FILE, weights_only=True)["generator"]
    second = torch.load(tmp_path / stages.PRETRAINED_FILE, weights_only=True)["generator"]
    assert all(torch.equal(first[k], second[k]) for k in first)
