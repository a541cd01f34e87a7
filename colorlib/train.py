"""Training: L1 pretraining of the generator, then the pix2pix conditional GAN.

:func:`fit` runs either trainer for some epochs, writes an atomic checkpoint after every epoch
(and on an interrupt), resumes exactly from one, and stops on the first non-finite loss.
"""
import contextlib
import dataclasses
import json
import math
import os
import random
import signal
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from colorlib.config import Config
from colorlib.dataset import seed_worker
from colorlib.distributed import Processes, any_process, average, unwrap
from colorlib.losses import GANLoss
from colorlib.runtime import autocast, keep_freed_memory

GAN_LOSSES = ("D_fake", "D_real", "D", "G_GAN", "G_L1", "G")
# Config fields that may change between a run and its resumption: they do not change what
# the finished epochs computed.
RESUMABLE_CHANGES = {"profile", "pretrain_epochs", "gan_epochs", "display_every", "device",
                     "num_workers", "cache_dir", "ssim_images", "resume", "progress", "study_images"}
# Settings that only the GAN stage reads: a pretraining checkpoint resumes under other values, so
# that trying another GAN on a finished pretraining trains the GAN alone.
GAN_ONLY_FIELDS = {"gan_photos", "gan_lr", "beta1", "beta2", "lambda_l1", "gan_reconstruction",
                   "lambda_cross_entropy", "gan_mode"}


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


def micro_batches(tensors, n):
    """Split each tensor of a batch into n equal chunks along the batch: [(L1, ab1), ...]."""
    if len(tensors[0]) % n:
        raise ValueError(f"a batch of {len(tensors[0])} does not split into {n} micro-batches")
    return list(zip(*(t.chunk(n) for t in tensors)))


def sync_on_last(module, is_last):
    """Under DDP, skip the gradient all-reduce for all but the last micro-batch's backward."""
    if is_last or not hasattr(module, "no_sync"):
        return contextlib.nullcontext()
    return module.no_sync()


def adam(parameters, lr, betas=(0.9, 0.999)):
    """Adam, fused into one kernel per step on CUDA (on this course's CPUs the fused kernel measured slower).

    ``parameters`` are tensors or optimiser groups (dicts with ``"params"``).
    """
    parameters = list(parameters)
    first = parameters[0]["params"][0] if isinstance(parameters[0], dict) else parameters[0]
    return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=first.device.type == "cuda")


def parameter_groups(module, lr, part=None, part_lr=None):
    """The module's parameters as optimiser groups: ``part``'s at ``part_lr``, the others at ``lr``."""
    if part is None or part_lr is None:
        return [{"params": list(module.parameters()), "lr": lr}]
    inside = {id(p) for p in part.parameters()}
    return [{"params": [p for p in module.parameters() if id(p) not in inside], "lr": lr},
            {"params": [p for p in module.parameters() if id(p) in inside], "lr": part_lr}]


SCHEDULES = ("constant", "one_cycle")


def one_cycle(progress, warmup=0.25, start_div=25.0, final_div=1e5):
    """The learning rate's share of its peak at a point of training, as fastai's fit_one_cycle.

    A cosine rise from peak / start_div to the peak over the first ``warmup`` share of the steps,
    then a cosine fall to peak / final_div: a high rate while it helps, a small one to settle.

    Parameters
    ----------
    progress : float
        Steps done over all steps, in [0, 1].
    """
    def cosine(start, end, t):
        return end + (start - end) * (1 + math.cos(math.pi * t)) / 2

    if progress < warmup:
        return cosine(1 / start_div, 1.0, progress / warmup)
    return cosine(1.0, 1 / final_div, min(1.0, (progress - warmup) / (1 - warmup)))


class Trainer:
    """What both trainers share: mixed precision, a gradient scaler, the schedule, their state."""

    def __init__(self, precision="fp32", micro_batches=1, device_type="cpu", schedule="constant"):
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected one of {SCHEDULES}")
        self.precision = precision
        self.micro_batches = micro_batches
        self.schedule = schedule
        # fp16 needs loss scaling against underflow; bf16 and fp32 do not (the scaler is a no-op).
        self.scaler = torch.amp.GradScaler(device_type, enabled=precision == "fp16")

    def backward(self, loss, module, is_last):
        with sync_on_last(module, is_last):
            self.scaler.scale(loss).backward()

    def step(self, optimizer):
        self.scaler.step(optimizer)

    def set_learning_rate(self, step, total_steps):
        """Set the optimisers' rates for a step from the schedule; a pure function of the step, so resumes repeat."""
        if self.schedule == "constant":
            return
        for optimizer in self.optimizers().values():
            for group in optimizer.param_groups:
                group["lr"] = group.setdefault("peak_lr", group["lr"]) * one_cycle(step / total_steps)

    def state_dict(self):
        state = {name: unwrap(module).state_dict() for name, module in self.modules().items()}
        state.update({name: opt.state_dict() for name, opt in self.optimizers().items()})
        state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state):
        for name, module in self.modules().items():
            unwrap(module).load_state_dict(state[name])
        for name, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state[name])
        self.scaler.load_state_dict(state["scaler"])


PRETRAIN_LOSSES = {"regression": "L1", "classification": "cross_entropy"}  # the name of each head's loss
RECONSTRUCTION_LOSSES = {"l1": "G_L1", "cross_entropy": "G_cross_entropy"}  # the GAN's meter for each


class L1Pretrainer(Trainer):
    """Pretrains the generator to predict ab from L with Adam (peak rate ``lr`` under a schedule).

    The loss is L1 on the predicted ab (the capstone's), or with ``loss="classification"`` the
    generator's own: called as ``generator(L, ab)`` it returns ``(ab, loss)`` (a classification
    head, :class:`colorlib.bins.BinnedColour`), through DDP's forward like any call.
    ``encoder_lr`` gives the parameters in ``encoder`` their own peak rate (fine-tuning
    ImageNet features more gently than the fresh decoder learns).
    """

    def __init__(self, generator, lr=1e-4, precision="fp32", micro_batches=1, schedule="constant",
                 loss="regression", encoder=None, encoder_lr=None):
        device_type = next(generator.parameters()).device.type
        super().__init__(precision, micro_batches, device_type, schedule)
        self.generator = generator
        self.loss = loss
        self.optimizer = adam(parameter_groups(generator, lr, encoder, encoder_lr), lr)
        self.criterion = nn.L1Loss()

    def modules(self):
        return {"generator": self.generator}

    def optimizers(self):
        return {"opt_G": self.optimizer}

    def train_step(self, L, ab):
        self.optimizer.zero_grad(set_to_none=True)
        chunks = micro_batches((L, ab), self.micro_batches)
        total = 0.0
        for i, (L_part, ab_part) in enumerate(chunks):
            with autocast(L.device, self.precision):
                if self.loss == "classification":
                    loss = self.generator(L_part, ab_part)[1].float()
                else:
                    fake = self.generator(L_part)
            if self.loss != "classification":
                loss = self.criterion(fake.float(), ab_part)  # losses in fp32
            loss = loss / len(chunks)
            self.backward(loss, self.generator, i == len(chunks) - 1)
            total += loss.detach()
        self.step(self.optimizer)
        self.scaler.update()
        return {PRETRAIN_LOSSES[self.loss]: total}


class ColorizationGAN(Trainer):
    """pix2pix for colorization: a generator G(L) -> ab judged by a PatchGAN on (L, ab).

    Parameters
    ----------
    generator, discriminator : nn.Module
        Plain or wrapped in DistributedDataParallel.
    lr : float
        Adam learning rate for both networks.
    betas : tuple of float
    lambda_l1 : float
        Weight of the reconstruction term in the generator's loss (the capstone's L1: 100);
        its meter is ``G_L1`` or ``G_cross_entropy``, already weighted.
    gan_mode : {"vanilla", "lsgan"}
    precision : {"fp32", "bf16", "fp16"}
    micro_batches : int
        Split each batch into this many parts, accumulating gradients: the same update as
        that many processes each holding one part (batch-norm statistics per part).
    reconstruction : {"l1", "cross_entropy"}
        The generator's term that keeps it close to the truth: pix2pix's L1 on ab, or the
        generator's own loss, ``generator(L, ab) -> (ab, loss)`` (the classification loss of a
        :class:`colorlib.bins.BinnedColour`, which L1 would pull back towards grey).
    """

    def __init__(self, generator, discriminator, lr=2e-4, betas=(0.5, 0.999), lambda_l1=100.0,
                 gan_mode="vanilla", precision="fp32", micro_batches=1, reconstruction="l1"):
        device = next(generator.parameters()).device
        super().__init__(precision, micro_batches, device.type)
        self.generator = generator
        self.discriminator = discriminator
        self.lambda_l1 = lambda_l1
        if reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction must be one of {sorted(RECONSTRUCTION_LOSSES)}, got {reconstruction!r}")
        self.reconstruction = reconstruction
        self.gan_loss = GANLoss(gan_mode).to(device)
        self.l1 = nn.L1Loss()
        self.opt_G = adam(generator.parameters(), lr, betas)
        self.opt_D = adam(discriminator.parameters(), lr, betas)

    def modules(self):
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self):
        return {"opt_G": self.opt_G, "opt_D": self.opt_D}

    def train_step(self, L, ab):
        """One discriminator step, then one generator step; returns the six losses."""
        chunks = micro_batches((L, ab), self.micro_batches)
        fakes, own_losses = [], []
        for L_part, ab_part in chunks:
            with autocast(L.device, self.precision):
                if self.reconstruction == "cross_entropy":
                    fake, own = self.generator(L_part, ab_part)
                    own_losses.append(own.float())
                else:
                    fake = self.generator(L_part)
            fakes.append(fake.float())
        losses = self._discriminator_step(chunks, fakes)
        losses.update(self._generator_step(chunks, fakes, own_losses))
        self.scaler.update()
        return losses

    def _discriminator_step(self, chunks, fakes):
        self.discriminator.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        d_fake = d_real = 0.0
        for i, ((L, ab), fake_ab) in enumerate(zip(chunks, fakes)):
            last = i == len(chunks) - 1
            # One forward per backward: DDP expects it, and each call sees one batch as pix2pix.
            with autocast(L.device, self.precision):
                fake_loss = self.gan_loss(self.discriminator(torch.cat([L, fake_ab.detach()], 1)), real=False)
            self.backward(fake_loss * 0.5 / len(chunks), self.discriminator, is_last=False)
            with autocast(L.device, self.precision):
                real_loss = self.gan_loss(self.discriminator(torch.cat([L, ab], 1)), real=True)
            self.backward(real_loss * 0.5 / len(chunks), self.discriminator, is_last=last)
            d_fake += fake_loss.detach() / len(chunks)
            d_real += real_loss.detach() / len(chunks)
        self.step(self.opt_D)
        return {"D_fake": d_fake, "D_real": d_real, "D": (d_fake + d_real) * 0.5}

    def _generator_step(self, chunks, fakes, own_losses=()):
        # G's loss must not train D; the plain module is called so DDP expects no D gradients.
        discriminator = unwrap(self.discriminator).requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        g_gan = g_rec = 0.0
        for i, ((L, ab), fake_ab) in enumerate(zip(chunks, fakes)):
            with autocast(L.device, self.precision):
                gan = self.gan_loss(discriminator(torch.cat([L, fake_ab], 1)), real=True)
            rec = own_losses[i] if own_losses else self.l1(fake_ab, ab)
            rec = rec * self.lambda_l1
            self.backward((gan + rec) / len(chunks), self.generator, is_last=i == len(chunks) - 1)
            g_gan += gan.detach() / len(chunks)
            g_rec += rec.detach() / len(chunks)
        self.step(self.opt_G)
        return {"G_GAN": g_gan, RECONSTRUCTION_LOSSES[self.reconstruction]: g_rec, "G": g_gan + g_rec}


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


def fit(trainer, dataset, epochs, config, device, checkpoint, stage, processes=Processes(),
        on_epoch_end=None, on_step=None, log=print, extra_state=None, fingerprint="", keep_step_losses=False):
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
    checkpoint : path-like
        Written atomically after every epoch and on an interrupt (by the main process).
    stage : str
        Name stored in the checkpoint ("pretrain", "gan"); a checkpoint of another stage is refused.
    processes : Processes
        This process's place under torchrun; the main one alone logs and writes.
    on_epoch_end : callable(epoch) -> dict, optional
        Extra values (validation scores) for the epoch's record.
    on_step : callable(step, L, ab), optional
        Called after every step (e.g. to show Gray / Fake / Real every N steps).
    log : callable(str)
    extra_state : dict, optional
        Plain data stored in every checkpoint (e.g. which weights the generator started from).
    fingerprint : str
        What the run trains on (its photos, its starting weights); a checkpoint with another
        fingerprint is refused on resume.
    keep_step_losses : bool
        Also keep every step's losses (this process's batch) in the epoch's record, as
        ``step_losses``: {name: [one value per step]}, for a short stage whose few epochs are too
        coarse a curve. Steps before an interruption are not kept in the resumed epoch's record.

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
    if config.resume and Path(checkpoint).is_file():
        position = resume(trainer, checkpoint, stage, config, log, fingerprint)
    history, step = position["history"], position["step"]
    state = {"stage": stage, "config": config.asdict(), "fingerprint": fingerprint, **(extra_state or {})}

    def save(epoch_done, batches_done, everywhere=True):
        # The loss guard sees losses computed before each update: an update that makes the weights
        # NaN (an epoch's last one above all) would otherwise be saved as the last good state.
        bad = non_finite_tensors(trainer.modules())
        if any_process(bool(bad), processes) if everywhere else bad:
            what = f"{bad[0]} and {len(bad) - 1} more" if bad else "in another training process"
            raise FloatingPointError(f"weights not finite ({what}) at epoch {epoch}, step {step}: "
                                     f"not saved, {Path(checkpoint).name} keeps the last good state")
        if processes.is_main:
            save_checkpoint(checkpoint, **trainer.state_dict(), **state, epoch=epoch_done,
                            batches_done=batches_done, step=step, history=history, rng=rng_state(),
                            complete=epoch_done >= epochs)

    for epoch in range(position["epoch"] + 1, epochs + 1):
        sampler.set_epoch(epoch, position["batches_done"] if epoch == position["epoch"] + 1 else 0)
        loader.generator.manual_seed(config.seed * 10_000 + epoch)  # worker seeds per epoch
        meters, seen, start = LossMeters(), 0, time.perf_counter()
        step_losses = defaultdict(list)
        batches_done = sampler.skip
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
            save(epoch - 1, batches_done, everywhere=False)  # other processes may not be interrupted
            log(f"interrupted in epoch {epoch} after {batches_done} batches: saved {Path(checkpoint).name}; "
                "run again to resume")
            raise
        record = {"epoch": epoch, **average(meters.means(), processes),
                  "images_per_s": seen / (time.perf_counter() - start)}
        if on_epoch_end is not None:
            record.update(on_epoch_end(epoch))
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


def resume(trainer, checkpoint, stage, config, log=print, fingerprint=""):
    """Load a checkpoint's weights, optimisers and RNG into a run, after checking it matches.

    Raises
    ------
    ValueError
        When the checkpoint belongs to another stage or its config differs in fields that
        change what training computes; the message names the fields.
    """
    state = load_checkpoint(checkpoint, require=("stage", "config", "epoch", "batches_done", "step", "history",
                                                 "rng", *trainer.state_dict()))
    if state.get("stage") != stage:
        raise ValueError(f"{Path(checkpoint).name} is a {state.get('stage')!r} checkpoint, not {stage!r}")
    if state.get("fingerprint", "") != fingerprint:
        raise ValueError(f"{Path(checkpoint).name} was trained on other photos or from other weights; "
                         "use another run folder, or resume=False to start again")
    differences = config_differences(state["config"], config.asdict(),
                                     ignore=GAN_ONLY_FIELDS if stage == "pretrain" else ())
    if differences:
        listed = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in differences.items())
        raise ValueError(f"{Path(checkpoint).name} was written with another config ({listed}); "
                         "use another run folder, or resume=False to start again")
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as error:  # missing or unexpected keys, wrong shapes
        raise CheckpointError(f"{checkpoint}: its weights do not fit this run's networks ({error})") from None
    set_rng_state(state["rng"])
    where = f"epoch {state['epoch']}" + (f", batch {state['batches_done']}" if state["batches_done"] else "")
    log(f"resuming from {Path(checkpoint).name} after {where}")
    return state


def config_differences(saved, current, ignore=()):
    """{field: (saved, current)} for fields that differ and matter to a resumed run (``ignore``: more that do not)."""
    return {k: (saved.get(k), current.get(k)) for k in sorted(set(saved) | set(current))
            if k not in RESUMABLE_CHANGES and k not in ignore and saved.get(k) != current.get(k)}


def rng_state():
    """Python, numpy and torch RNG states as plain data (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss]
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    random.setstate(_as_tuples(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value):
    # random.setstate wants the nested tuples that getstate gave; a checkpoint may hold lists.
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def format_record(record, epochs, speed=True):
    """One summary line for an epoch's record; ``speed`` adds the images per second."""
    shown = {k: v for k, v in record.items() if k not in ("epoch", "images_per_s", "step_losses")}
    values = "  ".join(f"{k} {v:.4f}" for k, v in shown.items())
    line = f"epoch {record['epoch']}/{epochs}  {values}"
    return line + (f"  ({record['images_per_s']:.1f} img/s)" if speed else "")


# A new file gets the permissions the user's umask gives (mkstemp alone would make it 0600).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _write_atomically(path, write):
    """Write a file by ``write(binary_file)`` into a unique temporary file beside it, then rename.

    The temporary name is unique (two writers on one folder never share it), its bytes reach the
    disk (fsync) before the rename, so a crash leaves the old file or the new one, never half of
    one, and it is removed if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_json(path, data):
    """Write JSON atomically (a unique temporary file, fsync, then rename)."""
    text = (json.dumps(data, indent=2) + "\n").encode()
    _write_atomically(path, lambda file: file.write(text))


def load_json(path):
    return json.loads(Path(path).read_text())


def save_checkpoint(path, **state):
    """Save state_dicts and plain data atomically, so a crash keeps the last good file."""
    _write_atomically(path, lambda file: torch.save(state, file))


class CheckpointError(ValueError):
    """A checkpoint file that is not what colorlib wrote: empty, truncated, or of another format."""


CHECKPOINT = "a checkpoint written by colorlib (torch.save of a dict of state_dicts and plain data)"


def load_checkpoint(path, map_location="cpu", mmap=False, require=(), expected=CHECKPOINT):
    """Load a checkpoint written by :func:`save_checkpoint` (plain data only, weights_only), checking its form.

    Parameters
    ----------
    path : path-like
    map_location : str or torch.device
    mmap : bool
        Map the tensors instead of reading them: enough to look at the plain data.
    require : iterable of str
        Keys the checkpoint must hold. With ``"config"`` among them its config must hold exactly
        the fields of :class:`colorlib.config.Config`; with ``"generator"`` that must be a state_dict.
    expected : str
        What the caller expected, for the error messages.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is empty, truncated or not loadable safely, or lacks what ``require`` asks
        for; the message names the file and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; expected {expected}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty; expected {expected}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as error:  # truncated, not a zip, a pickled object: all say "not ours"
        raise CheckpointError(f"{path} is not a checkpoint torch can load safely "
                              f"({type(error).__name__}: it may be truncated); expected {expected}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a dict; expected {expected}")
    return check_checkpoint(state, path, require, expected)


def check_checkpoint(state, path, require=(), expected=CHECKPOINT):
    """Check a loaded checkpoint holds ``require`` (see :func:`load_checkpoint`); returns it."""
    missing = [key for key in require if key not in state]
    if missing:
        raise CheckpointError(f"{path} has no {', '.join(map(repr, missing))}; expected {expected}")
    if "generator" in require and not (isinstance(state["generator"], dict)
                                       and all(torch.is_tensor(v) for v in state["generator"].values())):
        raise CheckpointError(f"{path}: its 'generator' is not a state_dict of tensors; expected {expected}")
    if "config" in require:
        checkpoint_config(state, path)
    return state


# Config fields added after checkpoints were first written: their defaults do what colorlib did
# before they existed, so a checkpoint without them is read with the defaults.
LATER_FIELDS = {"gan_reconstruction", "lambda_cross_entropy"}


def checkpoint_config(state, path):
    """The :class:`~colorlib.config.Config` a checkpoint was written with, refusing extra, missing or bad fields.

    Raises
    ------
    CheckpointError
        Naming the file and the fields; a missing field means another version of colorlib wrote it.
    """
    config = state.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: its 'config' is a {type(config).__name__}, expected a dict of Config fields")
    fields = {f.name for f in dataclasses.fields(Config)}
    extra, missing = sorted(set(config) - fields), sorted(fields - set(config) - LATER_FIELDS)
    if extra or missing:
        raise CheckpointError(f"{path}: its config has unknown fields {extra} and lacks fields {missing}; "
                              "expected the fields of this colorlib's Config (was it written by another version?)")
    try:
        return Config(**config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its config is not valid ({error})") from None


def check_finite_generator(state, path, weights=True):
    """Refuse a checkpoint whose chroma scale, or (with ``weights``) generator weights, are not finite.

    A NaN weight or scale paints every photo black, and colorize would still exit 0.

    Raises
    ------
    CheckpointError
        Naming the file and the first tensor or the scale at fault.
    """
    scale = state.get("chroma_scale", 1.0)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
        raise CheckpointError(f"{path}: its chroma_scale is {scale!r}; expected a finite number >= 0")
    bad = [key for key, tensor in state["generator"].items()
           if weights and tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise CheckpointError(f"{path}: its generator holds weights that are not finite ({bad[0]}, "
                              f"{len(bad)} tensors in all); expected finite weights")
    return state


def non_finite_tensors(modules):
    """Names of the parameters and buffers of ``{name: module}`` that hold a NaN or an infinity."""
    return [f"{name}.{key}" for name, module in modules.items()
            for key, tensor in [*unwrap(module).named_parameters(), *unwrap(module).named_buffers()]
            if tensor.is_floating_point() and not torch.isfinite(tensor).all()]


_HELD_LOCKS = {}  # resolved run folder -> [open lock file, depth]: one process may nest its own locks


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold ``<run_dir>/.lock`` while training writes into the run folder; refuse a second process.

    Two processes writing one run folder (two ``make all``, two notebooks) would interleave
    their checkpoints; the second is stopped before it writes anything. The lock is an
    ``fcntl.flock``, released by the system when a process dies, so a crash never leaves the
    folder locked. Nested calls in one process share the lock.

    Raises
    ------
    RuntimeError
        "run folder X is in use by another process (pid N)".
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): run unlocked
        yield
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = str(run_dir.resolve())
    if key in _HELD_LOCKS:
        _HELD_LOCKS[key][1] += 1
        try:
            yield
        finally:
            _HELD_LOCKS[key][1] -= 1
        return
    file = open(run_dir / ".lock", "a+")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        pid = file.read().strip() or "unknown"
        file.close()
        raise RuntimeError(f"run folder {run_dir} is in use by another process (pid {pid}); "
                           "wait for it to finish, or use another run folder") from None
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()}\n")
    file.flush()
    _HELD_LOCKS[key] = [file, 1]
    try:
        yield
    finally:
        _HELD_LOCKS[key][1] -= 1
        if _HELD_LOCKS[key][1] == 0:
            del _HELD_LOCKS[key]
            fcntl.flock(file, fcntl.LOCK_UN)
            file.close()
