"""fit: per-epoch checkpoints, exact resume, determinism, interrupts and non-finite losses."""
import os
import shutil
import signal

import pytest
import torch

from colorlib.checkpoints import load_checkpoint
from colorlib.config import get_config
from colorlib.dataset import LabTensorDataset
from colorlib.lab import quantise_lab
from colorlib.discriminator import PatchDiscriminator
from colorlib.models import build_generator
from colorlib.runtime import seed_everything
from colorlib.train import StageCheckpoint, fit
from colorlib.trainers import ColorizationGAN, L1Pretrainer, one_cycle

CONFIG = get_config("smoke", size=32, batch_size=2, seed=5, channels_last=False)
DEVICE = torch.device("cpu")


def dataset(n=6):
    generator = torch.Generator().manual_seed(0)
    L = torch.rand(n, 1, 32, 32, generator=generator) * 2 - 1
    lab = torch.cat([L, 0.3 * L, -0.2 * L.flip(-1)], dim=1)
    return LabTensorDataset(quantise_lab(lab), "train")


def gan():
    seed_everything(CONFIG.seed)
    generator = build_generator(32, imagenet_weights="never", verbose=False)[0]
    return ColorizationGAN(generator, PatchDiscriminator())


def train(trainer, checkpoint, epochs, config=CONFIG, **kwargs):
    seed_everything(config.seed)
    return fit(trainer, dataset(), epochs, config, DEVICE, StageCheckpoint(checkpoint, "gan"), log=lambda line: None,
               **kwargs)


def weights(trainer):
    return {k: v.clone() for name in ("generator", "discriminator")
            for k, v in trainer.state_dict()[name].items()}


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """One uninterrupted two-epoch run, the reference the resumed and repeated runs must match.

    Trained once for the module: each test that compares against it trains only its own run.
    """
    trainer, path = gan(), tmp_path_factory.mktemp("straight") / "straight.pt"
    history = train(trainer, path, 2)
    return {"weights": weights(trainer), "history": history, "checkpoint": path}


def without(history, *names):
    """The records without some keys: the speed, which no two runs share, or the step losses."""
    return [{k: v for k, v in record.items() if k not in names} for record in history]


@pytest.mark.slow
def test_two_runs_with_one_seed_are_identical(straight, tmp_path):
    second = gan()
    history = train(second, tmp_path / "b.pt", 2)
    assert without(history, "images_per_s") == without(straight["history"], "images_per_s")
    assert_identical(weights(second), straight["weights"])


@pytest.mark.slow
def test_step_losses_are_kept_per_step_when_asked_and_average_to_the_epoch_mean(straight, tmp_path):
    history = train(gan(), tmp_path / "run.pt", 2, keep_step_losses=True)
    for record in history:  # 6 photos in batches of 2: three steps an epoch, equal weights
        assert set(record["step_losses"]) == {"D_fake", "D_real", "D", "G_GAN", "G_L1", "G"}
        for name, values in record["step_losses"].items():
            assert len(values) == 3 and sum(values) / 3 == pytest.approx(record[name])
    assert load_checkpoint(tmp_path / "run.pt")["history"] == history  # kept across a resume
    # Keeping them changes nothing of the training: the same epochs as the reference's.
    assert without(history, "images_per_s", "step_losses") == without(straight["history"], "images_per_s")
    assert "step_losses" not in straight["history"][0]  # only when asked


@pytest.mark.slow
def test_resumed_run_ends_bit_identical(straight, tmp_path):
    half = gan()
    train(half, tmp_path / "resumed.pt", 1)
    resumed = gan()  # a fresh process would start from new weights: the checkpoint restores all
    history = train(resumed, tmp_path / "resumed.pt", 2)
    assert [r["epoch"] for r in history] == [1, 2]
    assert_identical(straight["weights"], weights(resumed))
    state = load_checkpoint(tmp_path / "resumed.pt")
    assert state["epoch"] == 2 and state["complete"] and state["stage"] == "gan"
    assert set(state) >= {"generator", "discriminator", "opt_G", "opt_D", "scaler", "rng", "config", "step"}


@pytest.mark.slow
def test_interrupted_run_saves_and_resumes_mid_epoch(straight, tmp_path):
    def interrupt(step, L, ab):
        if step == 4:  # the first batch of epoch 2
            raise KeyboardInterrupt

    interrupted = gan()
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, tmp_path / "run.pt", 2, on_step=interrupt)
    state = load_checkpoint(tmp_path / "run.pt")
    assert (state["epoch"], state["batches_done"], state["complete"]) == (1, 1, False)
    resumed = gan()
    history = train(resumed, tmp_path / "run.pt", 2)
    assert_identical(straight["weights"], weights(resumed))
    # The resumed epoch's losses cover its steps before the interruption too.
    assert without(history, "images_per_s") == without(straight["history"], "images_per_s")


@pytest.mark.slow
def test_an_interrupt_at_an_epochs_last_batch_keeps_the_epochs_losses(straight, tmp_path):
    def interrupt(step, L, ab):
        if step == 6:  # the last batch of epoch 2: the resumed run has no step left to average
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(gan(), tmp_path / "run.pt", 2, on_step=interrupt, keep_step_losses=True)
    history = train(gan(), tmp_path / "run.pt", 2, keep_step_losses=True)
    assert without(history, "images_per_s", "step_losses") == without(straight["history"], "images_per_s")
    assert [len(record["step_losses"]["D"]) for record in history] == [3, 3]


@pytest.mark.slow
def test_mismatched_config_is_refused_naming_the_fields(straight, tmp_path):
    shutil.copyfile(straight["checkpoint"], tmp_path / "run.pt")
    other = CONFIG.replace(lambda_l1=50.0, gan_lr=1e-3, gan_epochs=9)
    expected = r"gan_lr: checkpoint 0.0002, now 0.001; lambda_l1: checkpoint 100.0, now 50.0\)"
    with pytest.raises(ValueError, match=expected):
        train(gan(), tmp_path / "run.pt", 2, config=other)
    with pytest.raises(ValueError, match="'gan' checkpoint, not 'pretrain'"):
        fit(L1Pretrainer(gan().generator), dataset(), 2, CONFIG, DEVICE,
            StageCheckpoint(tmp_path / "run.pt", "pretrain"))
    fresh = train(gan(), tmp_path / "run.pt", 1, config=other.replace(resume=False))
    assert [r["epoch"] for r in fresh] == [1]


def test_a_finished_pretraining_resumes_under_other_gan_settings_but_not_other_training(tmp_path):
    # Trying another GAN on a finished pretraining must not train the generator again from nothing.
    generator, pretraining = gan().generator, StageCheckpoint(tmp_path / "pre.pt", "pretrain")
    fit(L1Pretrainer(generator), dataset(), 1, CONFIG, DEVICE, pretraining)
    other_gan = CONFIG.replace(lambda_cross_entropy=10.0, gan_photos=3000, gan_lr=1e-3)
    history = fit(L1Pretrainer(generator), dataset(), 1, other_gan, DEVICE, pretraining)
    assert [r["epoch"] for r in history] == [1]  # resumed, finished: nothing trained again
    with pytest.raises(ValueError, match="pretrain_lr: checkpoint 0.0001, now 0.001"):
        fit(L1Pretrainer(generator), dataset(), 1, CONFIG.replace(pretrain_lr=1e-3), DEVICE, pretraining)


def test_a_checkpoint_of_other_photos_is_not_resumed(tmp_path):
    generator, path = gan().generator, tmp_path / "pre.pt"
    fit(L1Pretrainer(generator), dataset(), 1, CONFIG, DEVICE, StageCheckpoint(path, "pretrain", "photos A"))
    with pytest.raises(ValueError, match="pre.pt was trained on other photos or from other weights"):
        fit(L1Pretrainer(generator), dataset(), 2, CONFIG, DEVICE, StageCheckpoint(path, "pretrain", "photos B"))


@pytest.mark.slow
def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = gan()
    after_epoch_1 = {}

    def poison(step, L, ab):
        if step == 3:  # the last step of epoch 1 (6 photos, batches of 2)
            after_epoch_1.update(weights(trainer))
        if step == 4:
            with torch.no_grad():
                next(trainer.generator.parameters()).fill_(float("nan"))

    with pytest.raises(FloatingPointError, match="is nan at epoch 2, step 5"):
        train(trainer, tmp_path / "run.pt", 3, on_step=poison)
    kept = load_checkpoint(tmp_path / "run.pt")
    assert kept["epoch"] == 1 and not kept["complete"]
    assert_identical({k: v for k, v in after_epoch_1.items() if k in kept["generator"]}, kept["generator"])


@pytest.mark.slow
def test_ctrl_c_is_honoured_between_steps(straight, tmp_path):
    def press_ctrl_c(step, L, ab):
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)  # arrives mid-run; the step in progress completes

    interrupted = gan()
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, tmp_path / "run.pt", 2, on_step=press_ctrl_c)
    assert signal.getsignal(signal.SIGINT) is handler  # the guard is gone
    state = load_checkpoint(tmp_path / "run.pt")
    assert (state["epoch"], state["batches_done"]) == (1, 1)
    resumed = gan()
    train(resumed, tmp_path / "run.pt", 2)
    assert_identical(straight["weights"], weights(resumed))


def test_one_cycle_warms_up_then_anneals():
    rates = [one_cycle(i / 100) for i in range(101)]
    assert rates[0] == pytest.approx(1 / 25) and max(rates) == pytest.approx(1.0)
    assert rates[25] == pytest.approx(1.0) and rates[100] == pytest.approx(1e-5)
    assert all(a <= b for a, b in zip(rates[:25], rates[1:26]))
    assert all(a >= b for a, b in zip(rates[25:], rates[26:]))


@pytest.mark.slow
def test_scheduled_pretraining_on_crops_resumes_bit_identical(tmp_path):
    config = CONFIG.replace(size=16, pretrain_schedule="one_cycle")

    def pretrainer():
        seed_everything(config.seed)
        generator = build_generator(16, imagenet_weights="never", verbose=False)[0]
        return L1Pretrainer(generator, 1e-3, schedule="one_cycle")

    def run(trainer, checkpoint, epochs, **kwargs):
        seed_everything(config.seed)
        crops = LabTensorDataset(dataset().lab, "train", crop_size=16, min_scale=0.5)
        return fit(trainer, crops, epochs, config, DEVICE, StageCheckpoint(checkpoint, "pretrain"),
                   log=lambda line: None, **kwargs)

    straight = pretrainer()
    run(straight, tmp_path / "straight.pt", 2)
    assert straight.optimizer.param_groups[0]["peak_lr"] == 1e-3
    # 6 photos, batches of 2, 2 epochs: the last of the 6 steps ran at the schedule's 5/6 point.
    assert straight.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * one_cycle(5 / 6))

    def interrupt(step, L, ab):
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(pretrainer(), tmp_path / "run.pt", 2, on_step=interrupt)
    resumed = pretrainer()
    run(resumed, tmp_path / "run.pt", 2)
    assert_identical(straight.generator.state_dict(), resumed.generator.state_dict())


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'cosine'"):
        L1Pretrainer(gan().generator, schedule="cosine")
