"""The training loop, which knows nothing of the networks it trains.

:func:`fit` runs a trainer (:mod:`colorlib.trainers`: anything with ``train_step``,
``set_learning_rate``, ``modules`` and ``state_dict``) for some epochs, writes an atomic
checkpoint after every epoch (and on an interrupt), resumes exactly from one, and stops on the
first non-finite loss or weight.
"""
import dataclasses
import signal
import threading
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Sampler

from colorlib.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from colorlib.dataset import seed_worker
from colorlib.distributed import Processes, any_process, average, unwrap
from colorlib.runtime import keep_freed_memory, rng_state, set_rng_state

# Config fields that may change between a run and its resumption: they do not change what
# the finished epochs computed.
RESUMABLE_CHANGES = {"profile", "pretrain_epochs", "gan_epochs", "display_every", "device",
                     "num_workers", "cache_dir", "ssim_images", "checks_per_epoch", "resume", "progress", "study_images", "study_full_budget",
                     "max_memory"}
# Settings that only the GAN stage reads: a pretraining checkpoint resumes under other values, so
# that trying another GAN on a finished pretraining trains the GAN alone.
GAN_ONLY_FIELDS = {"gan_photos", "gan_batch_size", "gan_lr", "beta1", "beta2", "lambda_l1", "gan_reconstruction",
                   "lambda_cross_entropy", "gan_mode", "disc_layers", "disc_filters"}


@dataclasses.dataclass(frozen=True)
class StageCheckpoint:
    """Where a stage's training state is saved, and what a checkpoint must match to be resumed.

    Parameters
    ----------
    path : path-like
        Written atomically after every epoch and on an interrupt (by the main process).
    stage : str
        Name stored in the checkpoint ("pretrain", "gan"); a checkpoint of another stage is refused.
    fingerprint : str
        What the run trains on (its photos, its starting weights); a checkpoint with another
        fingerprint is refused on resume.
    extra_state : dict
        Plain data stored in every checkpoint (which weights the generator started from, its spec).
    """

    path: Path
    stage: str
    fingerprint: str = ""
    extra_state: dict = dataclasses.field(default_factory=dict)


class LossMeters:
    """Running means of named losses, weighted by batch size."""

    def __init__(self):
        self.sums = defaultdict(float)
        self.counts = defaultdict(int)

    def update(self, losses, n):
        for name, value in losses.items():
            self.sums[name] += float(value) * n
            self.counts[name] += n

    def means(self):
        return {name: self.sums[name] / self.counts[name] for name in self.sums}

    def state(self):
        """Plain dicts of the sums and counts, for a checkpoint of an interrupted epoch."""
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    @classmethod
    def from_state(cls, state):
        meters = cls()
        meters.sums.update(state["sums"])
        meters.counts.update(state["counts"])
        return meters


class EpochSampler(Sampler):
    """Shuffled indices, the same for a given seed and epoch, split between processes.

    Each global batch of ``world_size x batch_size`` indices is cut into contiguous parts and
    process ``rank`` takes part ``rank``, so several processes see exactly the micro-batches
    one process would. ``set_epoch(epoch, skip_batches)`` resumes in the middle of an epoch.
    """

    def __init__(self, n, batch_size, seed, rank=0, world_size=1, shuffle=True):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle
        self.n_batches = n // (batch_size * world_size)
        if self.n_batches == 0:
            raise ValueError(f"{n} images are fewer than one batch of {batch_size * world_size}")
        self.epoch, self.skip = 1, 0

    def set_epoch(self, epoch, skip_batches=0):
        self.epoch, self.skip = epoch, skip_batches

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 10_000 + self.epoch)
        order = torch.randperm(self.n, generator=generator) if self.shuffle else torch.arange(self.n)
        used = order[: self.n_batches * self.batch_size * self.world_size]
        mine = used.view(self.n_batches, self.world_size, self.batch_size)[:, self.rank]
        return iter(mine[self.skip:].reshape(-1).tolist())

    def __len__(self):
        return (self.n_batches - self.skip) * self.batch_size


class InterruptGuard:
    """Turns Ctrl-C (or a notebook's interrupt) into a request honoured between training steps.

    A step interrupted halfway (after the discriminator's update, before the generator's) could
    not be resumed exactly; a second Ctrl-C stops at once.
    """

    def __enter__(self):
        self.requested, self.previous = False, None
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self.previous = signal.signal(signal.SIGINT, self._request)
        return self

    def _request(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def check_finite(losses, epoch, step, processes=Processes()):
    """Stop the run, naming where, as soon as a loss is NaN or infinite.

    Under torchrun all processes stop at the same step: one left running would wait forever
    for the others at its next gradient all-reduce.
    """
    bad = [name for name, value in losses.items() if not torch.isfinite(torch.as_tensor(value))]
    if any_process(bool(bad), processes):
        where = f"at epoch {epoch}, step {step}"
        if bad:
            raise FloatingPointError(f"loss {bad[0]} is {float(losses[bad[0]])} {where}")
        raise FloatingPointError(f"a loss is not finite in another training process {where}")


def to_device(batch, device, channels_last=False):
    """Move an {"L", "ab"} batch to the device, in channels_last layout if asked."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    non_blocking = device.type == "cuda"  # overlaps the copy with compute (pinned memory)
    return tuple(
        batch[key].to(device, non_blocking=non_blocking).contiguous(memory_format=memory_format)
        for key in ("L", "ab")
    )


def fit(trainer, dataset, epochs, config, device, checkpoint, processes=Processes(),
        on_epoch_end=None, on_step=None, log=print, keep_step_losses=False):
    """Train for some epochs with per-epoch checkpoints; resume from ``checkpoint`` if asked.

    Parameters
    ----------
    trainer : L1Pretrainer or ColorizationGAN
    dataset : Dataset of {"L", "ab"} items
    epochs : int
        Total epochs; a resumed run trains only those not yet done.
    config : Config
        Batch size (global, over all processes), seed, workers, channels_last, resume.
    device : torch.device
    checkpoint : StageCheckpoint
        Where the state is saved and what a checkpoint found there must match to be resumed.
    processes : Processes
        This process's place under torchrun; the main one alone logs and writes.
    on_epoch_end : callable(epoch) -> dict, optional
        Extra values (validation scores) for the epoch's record.
    on_step : callable(step, L, ab), optional
        Called after every step (e.g. to show Gray / Fake / Real every N steps).
    log : callable(str)
    keep_step_losses : bool
        Also keep every step's losses (this process's batch) in the epoch's record, as
        ``step_losses``: {name: [one value per step]}, for a short stage whose few epochs are too
        coarse a curve. An interrupted epoch's checkpoint keeps its losses so far (``partial_epoch``),
        so the resumed epoch's record covers all of its steps.

    Returns
    -------
    list of dict
        One record per epoch: losses, ``images_per_s``, the on_epoch_end values and, if asked,
        ``step_losses``.
    """
    log = log if processes.is_main else (lambda line: None)
    if device.type == "cpu":
        keep_freed_memory()  # the step's buffers stay mapped: no page faults every step
    if processes.distributed and config.micro_batches > 1:
        # DDP decides at each forward whether to synchronise; splitting batches would need every
        # part's forward inside no_sync. Several processes already split the batch.
        raise ValueError("micro_batches > 1 is not supported with several processes; use more processes")
    if config.batch_size % processes.world_size:
        raise ValueError(f"batch_size {config.batch_size} does not split evenly over {processes.world_size} processes")
    if processes.distributed:
        torch.manual_seed(config.seed * 1000 + processes.rank)  # each process flips its own photos
    batch_size = min(config.batch_size, len(dataset) * processes.world_size)
    if batch_size < config.batch_size:
        log(f"only {len(dataset)} training photos: batches of {batch_size} instead of {config.batch_size}")
    sampler = EpochSampler(len(dataset), batch_size // processes.world_size, config.seed,
                           processes.rank, processes.world_size)
    loader = DataLoader(dataset, batch_size=sampler.batch_size, sampler=sampler,
                        num_workers=config.num_workers, worker_init_fn=seed_worker,
                        pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(config.seed))
    position = {"epoch": 0, "batches_done": 0, "step": 0, "history": []}
    path = Path(checkpoint.path)
    if config.resume and path.is_file():
        position = resume(trainer, checkpoint, config, log)
    history, step = position["history"], position["step"]
    state = {"stage": checkpoint.stage, "config": config.asdict(), "fingerprint": checkpoint.fingerprint,
             **checkpoint.extra_state}

    def save(epoch_done, batches_done, everywhere=True, partial_epoch=None):
        # The loss guard sees losses computed before each update: an update that makes the weights
        # NaN (an epoch's last one above all) would otherwise be saved as the last good state.
        bad = non_finite_tensors(trainer.modules())
        if any_process(bool(bad), processes) if everywhere else bad:
            what = f"{bad[0]} and {len(bad) - 1} more" if bad else "in another training process"
            raise FloatingPointError(f"weights not finite ({what}) at epoch {epoch}, step {step}: "
                                     f"not saved, {path.name} keeps the last good state")
        if processes.is_main:
            save_checkpoint(path, **trainer.state_dict(), **state, epoch=epoch_done,
                            batches_done=batches_done, step=step, history=history, rng=rng_state(),
                            complete=epoch_done >= epochs, partial_epoch=partial_epoch or {})

    for epoch in range(position["epoch"] + 1, epochs + 1):
        sampler.set_epoch(epoch, position["batches_done"] if epoch == position["epoch"] + 1 else 0)
        loader.generator.manual_seed(config.seed * 10_000 + epoch)  # worker seeds per epoch
        meters, seen, start = LossMeters(), 0, time.perf_counter()
        step_losses = defaultdict(list)
        batches_done = sampler.skip
        if batches_done and position.get("partial_epoch"):  # the interrupted epoch's steps count in its record
            partial = position["partial_epoch"]
            meters, seen = LossMeters.from_state(partial["meters"]), partial["seen"]
            start -= partial["seconds"]
            step_losses.update({name: list(values) for name, values in partial["step_losses"].items()})
        batches = live_progress(loader, config.progress and processes.is_main)
        try:
            with InterruptGuard() as guard:
                for batch in batches:
                    L, ab = to_device(batch, device, config.channels_last)
                    trainer.set_learning_rate(step, epochs * sampler.n_batches)
                    losses = trainer.train_step(L, ab)
                    step += 1
                    check_finite(losses, epoch, step, processes)
                    meters.update(losses, len(L))
                    if keep_step_losses:
                        for name, value in losses.items():
                            step_losses[name].append(float(value))
                    batches.comment = "  ".join(f"{k} {float(v):.3f}" for k, v in losses.items())
                    seen += len(L) * processes.world_size
                    batches_done += 1
                    if on_step is not None:
                        on_step(step, L, ab)
                    if guard.requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            partial = {"meters": meters.state(), "seen": seen, "seconds": time.perf_counter() - start,
                       "step_losses": dict(step_losses)}
            save(epoch - 1, batches_done, everywhere=False, partial_epoch=partial)  # others may run on
            log(f"interrupted in epoch {epoch} after {batches_done} batches: saved {path.name}; "
                "run again to resume")
            raise
        record = {"epoch": epoch, **average(meters.means(), processes),
                  "images_per_s": seen / (time.perf_counter() - start)}
        if on_epoch_end is not None:
            record.update(on_epoch_end(epoch))
            if record.get("seconds", 0) > 0:  # its training time, checks left out: the speed a reader can recompute
                record["images_per_s"] = seen / record["seconds"]
        if keep_step_losses:
            record["step_losses"] = dict(step_losses)
        history.append(record)
        log(format_record(record, epochs, speed=config.progress))
        save(epoch, 0)
    return history


class _Quiet:
    """Stands in for a progress bar when none is shown."""

    def __init__(self, iterable):
        self.iterable, self.comment = iterable, ""

    def __iter__(self):
        return iter(self.iterable)


def live_progress(loader, show):
    """A per-epoch progress bar with live losses (HTML in JupyterLab, text in a terminal)."""
    if not show:
        return _Quiet(loader)
    from fastprogress import progress_bar

    return progress_bar(loader, leave=False)


def resume(trainer, checkpoint, config, log=print):
    """Load a :class:`StageCheckpoint`'s weights, optimisers and RNG into a run, after checking it matches.

    Raises
    ------
    ValueError
        When the checkpoint belongs to another stage or its config differs in fields that
        change what training computes; the message names the fields.
    """
    path, stage = Path(checkpoint.path), checkpoint.stage
    state = load_checkpoint(path, require=("stage", "config", "epoch", "batches_done", "step", "history",
                                           "rng", *trainer.state_dict()))
    if state.get("stage") != stage:
        raise ValueError(f"{path.name} is a {state.get('stage')!r} checkpoint, not {stage!r}")
    if state.get("fingerprint", "") != checkpoint.fingerprint:
        raise ValueError(f"{path.name} was trained on other photos or from other weights; "
                         "use another run folder, or resume=False to start again")
    differences = config_differences(state["config"], config.asdict(),
                                     ignore=GAN_ONLY_FIELDS if stage == "pretrain" else ())
    if differences:
        listed = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in differences.items())
        raise ValueError(f"{path.name} was written with another config ({listed}); "
                         "use another run folder, or resume=False to start again")
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as error:  # missing or unexpected keys, wrong shapes
        raise CheckpointError(f"{path}: its weights do not fit this run's networks ({error})") from None
    bad = non_finite_tensors(trainer.modules())
    if bad:  # refused here, not steps later as a NaN loss that names no file
        raise CheckpointError(f"{path}: {bad[0]}" + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
                              + " not finite; expected the finite weights of a good state: use resume=False "
                              "or restore the file")
    set_rng_state(state["rng"])
    where = f"epoch {state['epoch']}" + (f", batch {state['batches_done']}" if state["batches_done"] else "")
    log(f"resuming from {path.name} after {where}")
    return state


def config_differences(saved, current, ignore=()):
    """{field: (saved, current)} for fields that differ and matter to a resumed run (``ignore``: more that do not)."""
    return {k: (saved.get(k), current.get(k)) for k in sorted(set(saved) | set(current))
            if k not in RESUMABLE_CHANGES and k not in ignore and saved.get(k) != current.get(k)}


def format_record(record, epochs, speed=True):
    """One summary line for an epoch's record; ``speed`` adds the images per second."""
    shown = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k not in ("epoch", "images_per_s")}
    values = "  ".join(f"{k} {v:.4f}" for k, v in shown.items())
    line = f"epoch {record['epoch']}/{epochs}  {values}"
    return line + (f"  ({record['images_per_s']:.1f} img/s)" if speed else "")


def non_finite_tensors(modules):
    """Names of the parameters and buffers of ``{name: module}`` that hold a NaN or an infinity."""
    return [f"{name}.{key}" for name, module in modules.items()
            for key, tensor in [*unwrap(module).named_parameters(), *unwrap(module).named_buffers()]
            if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
