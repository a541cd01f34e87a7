"""Checkpoints that are never lost, torn or trusted blindly: NaN weights, two writers, malformed files."""
import errno
import multiprocessing
import os

import pytest
import torch
from torch import nn

from colorlib import checkpoints, colorizer, stages
from colorlib.checkpoints import CheckpointError, load_checkpoint, load_json, run_lock, save_checkpoint, save_json
from colorlib.config import get_config
from colorlib.dataset import LabTensorDataset
from colorlib.lab import quantise_lab
from colorlib.models import build_generator
from colorlib.train import StageCheckpoint, fit
from colorlib.trainers import L1Pretrainer

CONFIG = get_config("smoke", size=32, batch_size=2, seed=5, channels_last=False, precision="fp32")
FORK = multiprocessing.get_context("fork")  # a forked child starts at once: torch is already imported


def dataset(n=6):
    generator = torch.Generator().manual_seed(0)
    L = torch.rand(n, 1, 32, 32, generator=generator) * 2 - 1
    return LabTensorDataset(quantise_lab(torch.cat([L, 0.3 * L, -0.2 * L], dim=1)), "train")


def test_an_update_that_makes_the_weights_nan_is_never_saved_as_the_last_good_state(tmp_path):
    torch.manual_seed(0)
    trainer = L1Pretrainer(nn.Conv2d(1, 2, 3, padding=1), lr=1e-3)
    after_epoch_1 = {}

    def diverge(step, L, ab):
        if step == 3:  # the last step of epoch 1 (6 photos in batches of 2)
            after_epoch_1.update({k: v.clone() for k, v in trainer.generator.state_dict().items()})
        if step == 5:  # the next, last update of epoch 2 really diverges; its loss, computed before it, is finite
            trainer.optimizer.param_groups[0]["lr"] = float("inf")

    checkpoint = tmp_path / "generator_pretrained.pt"
    with pytest.raises(FloatingPointError, match=r"weights not finite \(generator.weight.*at epoch 2, step 6"):
        fit(trainer, dataset(), 2, CONFIG, torch.device("cpu"), StageCheckpoint(checkpoint, "pretrain"),
            log=lambda line: None,
            on_step=diverge)
    assert not torch.isfinite(trainer.generator.weight).all()  # the fault was real
    kept = load_checkpoint(checkpoint)
    assert kept["epoch"] == 1 and not kept["complete"]
    for key, value in after_epoch_1.items():
        assert torch.equal(kept["generator"][key], value), key


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory):
    """A real generator checkpoint as notebook 03 writes it (the keys load_generator reads)."""
    torch.manual_seed(0)
    generator = build_generator(CONFIG.size, imagenet_weights="never", verbose=False)[0]
    path = tmp_path_factory.mktemp("checkpoint") / "generator_pretrained.pt"
    save_checkpoint(path, generator=generator.state_dict(), config=CONFIG.asdict(), weights="random")
    return path


def rewrite(generator_file, path, change):
    state = torch.load(generator_file, weights_only=True)
    change(state)
    torch.save(state, path)
    return path


def poison_a_weight(state):
    next(iter(state["generator"].values())).view(-1)[0] = float("nan")


@pytest.mark.parametrize("name, change, why", [
    ("nan_weight.pt", poison_a_weight, "weights that are not finite"),
    ("nan_scale.pt", lambda state: state.update(chroma_scale=float("nan")), "chroma scale nan: expected a finite"),
    ("nan_spec.pt", lambda state: state.update(spec={"size": 32, "chroma_scale": float("nan")}), "chroma scale nan"),
    ("other_normalisation.pt", lambda state: state.update(spec={"size": 32, "normalisation": "L*/100"}),
     "a generator normalised as 'L\\*/100'"),
    ("unknown_spec_field.pt", lambda state: state.update(spec={"size": 32, "depth": 5}), "generator spec is not valid"),
    ("extra_field.pt", lambda state: state["config"].update(colour="yes"), r"unknown fields \['colour'\]"),
    ("missing_field.pt", lambda state: state["config"].pop("size"), r"lacks fields \['size'\]"),
    ("bad_field.pt", lambda state: state["config"].update(batch_size=0), "batch_size must be a positive"),
    ("missing_key.pt", lambda state: state["generator"].popitem(), "does not fit the network"),
    ("no_config.pt", lambda state: state.pop("config"), "config"),
])
def test_malformed_or_non_finite_generators_are_refused_naming_the_file(generator_file, tmp_path, name, change,
                                                                       why):
    path = rewrite(generator_file, tmp_path / name, change)
    with pytest.raises(CheckpointError, match=why) as error:
        stages.load_generator(path)
    assert str(path) in str(error.value)
    if name != "missing_key.pt":  # read_checkpoint does not build the network
        with pytest.raises(CheckpointError, match=why):
            colorizer.read_checkpoint(path)


def test_a_checkpoint_written_before_the_later_fields_reads_with_their_defaults(generator_file, tmp_path):
    def drop_later_fields(state):
        for name in ("decoder", "gan_batch_size", "disc_filters"):
            state["config"].pop(name)

    path = rewrite(generator_file, tmp_path / "older.pt", drop_later_fields)
    from colorlib.checkpoints import checkpoint_config

    _, spec, state = stages.load_generator(path)
    config = checkpoint_config(state, path)
    assert spec.decoder == "unet" and (config.decoder, config.gan_batch_size, config.disc_filters) == ("unet", 0, 64)


@pytest.mark.parametrize("name, why", [("empty.pt", "is empty"), ("truncated.pt", "may be truncated")])
def test_empty_or_truncated_files_are_refused_naming_the_file(generator_file, tmp_path, name, why):
    data = generator_file.read_bytes()
    path = tmp_path / name
    path.write_bytes(b"" if name == "empty.pt" else data[: len(data) // 2])
    for load in (stages.load_generator, colorizer.read_checkpoint, load_checkpoint):
        with pytest.raises(CheckpointError, match=why) as error:
            load(path)
        assert str(path) in str(error.value)
    assert issubclass(CheckpointError, ValueError)  # the command line reports it as an error, exit non-zero


def test_a_resumed_run_refuses_a_checkpoint_without_its_optimiser_naming_the_file(tmp_path):
    torch.manual_seed(0)
    checkpoint = tmp_path / "run.pt"
    trainer = L1Pretrainer(nn.Conv2d(1, 2, 3, padding=1))
    fit(trainer, dataset(), 1, CONFIG, torch.device("cpu"), StageCheckpoint(checkpoint, "pretrain"),
        log=lambda line: None)
    state = torch.load(checkpoint, weights_only=True)
    del state["opt_G"]
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointError, match=f"{checkpoint}.*has no 'opt_G'"):
        fit(trainer, dataset(), 2, CONFIG, torch.device("cpu"), StageCheckpoint(checkpoint, "pretrain"),
            log=lambda line: None)


def test_a_resumed_run_refuses_a_checkpoint_with_a_nan_weight_at_load_naming_the_file(tmp_path):
    torch.manual_seed(0)
    checkpoint = tmp_path / "run.pt"
    trainer = L1Pretrainer(nn.Conv2d(1, 2, 3, padding=1))
    fit(trainer, dataset(), 1, CONFIG, torch.device("cpu"), StageCheckpoint(checkpoint, "pretrain"),
        log=lambda line: None)
    state = torch.load(checkpoint, weights_only=True)
    state["generator"]["weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointError, match=f"{checkpoint}: generator.weight not finite"):
        fit(trainer, dataset(), 2, CONFIG, torch.device("cpu"), StageCheckpoint(checkpoint, "pretrain"),
            log=lambda line: None)


def test_a_folder_or_a_device_given_as_a_checkpoint_is_named_as_such(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"checkpoint {tmp_path} is a folder"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="is not a regular file"):
        load_checkpoint("/dev/null")


def _write_many(path, json_path, start, n):
    for i in range(start, start + n):
        save_checkpoint(path, value=torch.full((256,), float(i)), i=i)
        save_json(json_path, {"i": i, "padding": "x" * 4096})


def test_two_writers_on_one_folder_never_tear_a_file(tmp_path):
    path, json_path = tmp_path / "gan.pt", tmp_path / "gan_history.json"
    _write_many(path, json_path, 0, 1)
    writers = [FORK.Process(target=_write_many, args=(path, json_path, start, 40)) for start in (1000, 2000)]
    for writer in writers:
        writer.start()
    reads = 0
    while any(writer.is_alive() for writer in writers) or reads < 20:
        state = load_checkpoint(path)  # a torn file would fail to load, or mix two writers' values
        assert torch.equal(state["value"], torch.full((256,), float(state["i"])))
        assert load_json(json_path)["padding"] == "x" * 4096
        reads += 1
    assert [writer.join() or writer.exitcode for writer in writers] == [0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gan.pt", "gan_history.json"]  # no temporary left


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "gan.pt"
    save_checkpoint(path, i=1)
    with pytest.raises(Exception):
        save_checkpoint(path, i=2, broken=lambda: None)  # a lambda cannot be pickled
    assert load_checkpoint(path) == {"i": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["gan.pt"]



class _DiskFillsUp:
    """A file whose disk is full after its first 1,000 bytes, as the operating system reports it."""

    def __init__(self, file):
        self.file, self.room = file, 1000

    def write(self, data):
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *error):
        self.file.close()


def test_a_full_disk_is_named_and_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "gan.pt"
    save_checkpoint(path, i=1)
    real_fdopen = os.fdopen
    monkeypatch.setattr(checkpoints.os, "fdopen", lambda fd, mode: _DiskFillsUp(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match=r"no space left on the disk to write .*gan\.pt \(\d+ MB free\)") as raised:
        save_checkpoint(path, weights=torch.zeros(10_000))  # torch.save says 'unexpected pos', not why
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert load_checkpoint(path) == {"i": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["gan.pt"]

def _hold_lock(run_dir, locked, release):
    with run_lock(run_dir):
        locked.set()
        release.wait(30)


def test_a_second_trainer_on_a_run_folder_in_use_is_refused_before_writing(tmp_path):
    locked, release = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold_lock, args=(tmp_path, locked, release))
    holder.start()
    try:
        assert locked.wait(30)
        with pytest.raises(RuntimeError, match=f"run folder {tmp_path} is in use by another process "
                                               rf"\(pid {holder.pid}\)"):
            stages.make_split(CONFIG, tmp_path, log=lambda line: None)
        assert not (tmp_path / stages.SPLIT_FILE).exists()
    finally:
        release.set()
        holder.join(30)
    with run_lock(tmp_path), run_lock(tmp_path):  # free again once the other process is done; nests in one
        pass
