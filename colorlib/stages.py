"""The course's stages as functions, each handing its products to the next through files.

A run folder holds everything a run makes: ``split.json`` and the data manifest (notebook 01,
:mod:`colorlib.splits`), the pretrained generator and its history (03), the GAN checkpoint and
its history (04); notebook 05 adds the metrics (:mod:`colorlib.evaluation`). The file names
and the loading live in :mod:`colorlib.checkpoints`.
"""
import hashlib
import json
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from colorlib.checkpoints import (
    GAN_FILE,
    GAN_HISTORY_FILE,
    PRETRAIN_HISTORY_FILE,
    PRETRAINED_FILE,
    RUN_CHECKPOINTS,
    SPLIT_FILE,
    holds_run_folder,
    load_generator,
    save_json,
)
from colorlib.config import PROFILES
from colorlib.distributed import barrier, init_processes, unwrap, wrap
from colorlib.metrics import score_images
from colorlib.discriminator import PatchDiscriminator
from colorlib.models import GeneratorSpec, build_generator, encoder_of, freeze_encoder_norms
from colorlib.plots import show_comparison
from colorlib.predict import predict_ab, resized
from colorlib.runtime import pick_device, resolve_precision, seed_everything
from colorlib.shipping import shipped_generator
from colorlib.splits import (
    datasets,
    load_split,
    make_split,
    training_ab,
    training_photos,
    training_subset,
    validation_batch,
)
from colorlib.train import RESUMABLE_CHANGES, StageCheckpoint, fit
from colorlib.trainers import ColorizationGAN, L1Pretrainer

WATCHED_PHOTOS = 6  # validation photos notebook 04 shows as the GAN trains


def run_name(config):
    """The run folder's name for a config: ``<profile>``, or ``<profile>-<hash>`` when the run is another.

    A run is another when its data or any field that changes what training computes differs
    from its profile's (the fields :data:`colorlib.train.RESUMABLE_CHANGES` leaves out, such as
    more epochs, continue the same run). The hash is the first 8 hex digits of the sha256 of
    those differences, so the same make line always finds the same folder, and another one never
    meets the first run's checkpoints.
    """
    profile = PROFILES.get(config.profile)
    changed = {name: value for name, value in config.asdict().items()
               if name not in RESUMABLE_CHANGES and (profile is None or value != getattr(profile, name))}
    if not changed:
        return config.profile
    return f"{config.profile}-{hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]}"


def run_folder(profile, run_dir=None, config=None, root=None):
    """The run folder: ``run_dir`` when given, else ``<root>/<name>``.

    The name is :func:`run_name` of ``config`` (``<profile>`` without one). ``<root>`` is
    ``root``, else the ``COLORLIB_RUNS`` environment variable, else ``../runs``: beside the
    notebooks, as JupyterLab runs them. The tests point it elsewhere, so that checking the
    notebooks never meets the checkpoints of a learner's own runs.
    """
    if run_dir:
        return Path(run_dir)
    root = root or os.environ.get("COLORLIB_RUNS") or Path("..") / "runs"
    return Path(root) / (run_name(config) if config is not None else profile)


def runtime(config):
    """(device, precision, processes) this config runs with, joining torchrun's group if any."""
    processes = init_processes("cuda" if torch.cuda.is_available() and config.device in ("auto", "cuda") else "cpu")
    device = pick_device(config.device, processes.local_rank)
    return device, resolve_precision(config.precision, device), processes


def prepare(module, config, device, processes):
    """Move a network to the device (channels_last if asked) and wrap it for DDP if needed."""
    module = module.to(device)
    if config.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return wrap(module, processes, device)


def new_generator(config, verbose=True):
    """A freshly initialised generator, seeded by the config; returns (generator, weights used)."""
    seed_everything(config.seed)
    return build_generator(config.size, config.imagenet_weights, verbose, config.encoder, config.head,
                           config.temperature, output_stride=config.output_stride, decoder=config.decoder)


@holds_run_folder
def pretrain(generator, split, config, run_dir, weights="random", log=print):
    """Pretrain a generator on the split's training images (L1, or the classification loss); checkpoint each epoch.

    The history keeps every step's training loss (``step_losses``) and, ``config.checks_per_epoch``
    times an epoch, the loss on every validation photo, seen at the training size (``checks``:
    the step, ``val_L1``, the same L1 the training reports, and with ``head="classification"``
    ``val_cross_entropy``). Each epoch's record also holds its last check's values, the L1 of
    predicting no colour on the same photos (``grey_L1``, the reference a generator has to
    beat) and the epoch's training time in ``seconds``, checks excluded. Resumes from the run
    folder's checkpoint when ``config.resume`` and it matches; checks of an interrupted epoch
    before the interruption are not kept.
    """
    seed_everything(config.seed)
    device, precision, processes = runtime(config)
    train_set = datasets(split, config)[0]
    if config.head == "classification":
        generator.fit_prior(training_ab(train_set), config.rebalance)
    if config.freeze_encoder_bn:
        generator = freeze_encoder_norms(generator)
    encoder = encoder_of(generator)
    generator = prepare(generator, config, device, processes)
    trainer = L1Pretrainer(generator, config.pretrain_lr, precision, config.micro_batches, config.pretrain_schedule,
                           loss=config.head, encoder=encoder, encoder_lr=config.pretrain_lr * config.encoder_lr_scale,
                           loss_stride=config.loss_stride)
    val = {k: resized(v, config.size) for k, v in validation_batch(split, config).items()}
    validation = ValidationChecks(lambda: validation_losses(unwrap(generator), val, config.head, precision),
                                  batches_per_epoch(len(train_set), config, processes), config.checks_per_epoch)
    checkpoint = StageCheckpoint(Path(run_dir) / PRETRAINED_FILE, "pretrain", training_photos(split),
                                 {"weights": weights, "spec": GeneratorSpec.of_config(config).asdict()})
    history = fit(trainer, train_set, config.pretrain_epochs, config, device, checkpoint, processes,
                  on_epoch_end=validation.end_of_epoch, on_step=validation.after_step if processes.is_main else None,
                  log=log, keep_step_losses=True)
    if processes.is_main:
        save_json(Path(run_dir) / PRETRAIN_HISTORY_FILE, history)
    return history


def batches_per_epoch(n_photos, config, processes):
    """Steps in one epoch of :func:`colorlib.train.fit` (its sampler drops the last, incomplete batch)."""
    return max(1, n_photos // min(config.batch_size, n_photos * processes.world_size))


def validation_losses(net, val, head, precision="fp32", batch_size=32):
    """The L1 of a generator's a*b* on a batch of validation photos, its loss too for a classifier, and grey's L1.

    Parameters
    ----------
    net : nn.Module
        The generator, seen at the photos' size.
    val : dict
        ``{"L", "ab"}``, normalised, at the training size.
    head : {"regression", "classification"}
    """
    fake_ab = predict_ab(net, val["L"], precision)
    record = {"val_L1": float((fake_ab - val["ab"]).abs().mean()), "grey_L1": float(val["ab"].abs().mean())}
    if head == "classification":
        device, was_training = next(net.parameters()).device, net.training
        net.eval()
        with torch.no_grad():
            total = sum(float(net.loss(L.to(device), ab.to(device))) * len(L)
                        for L, ab in zip(val["L"].split(batch_size), val["ab"].split(batch_size)))
        net.train(was_training)
        record["val_cross_entropy"] = total / len(val["L"])
    return record


class ValidationChecks:
    """Validation several times an epoch, for :func:`colorlib.train.fit`'s ``on_step`` and ``on_epoch_end``.

    One point per epoch is too coarse a curve for a run of one or two epochs. ``measure()``
    runs after every ``batches // checks`` steps, and at each epoch's end; the time it takes is
    left out of the epoch's training ``seconds``.
    """

    def __init__(self, measure, batches, checks):
        self.measure, self.every, self.batches = measure, max(1, batches // max(1, checks)), batches
        self.checks, self.in_epoch, self.step, self.excluded = [], 0, 0, 0.0
        self.clock = time.perf_counter()

    def _check(self):
        start = time.perf_counter()
        values = self.measure()
        self.checks.append({"step": self.step, **values})
        self.excluded += time.perf_counter() - start
        return values

    def after_step(self, step, L, ab):
        self.step, self.in_epoch = step, self.in_epoch + 1
        if self.in_epoch % self.every == 0 and self.in_epoch < self.batches:  # the epoch's end checks itself
            self._check()

    def end_of_epoch(self, epoch):
        values = self._check()
        seconds = time.perf_counter() - self.clock - self.excluded
        record = {**values, "checks": self.checks, "seconds": seconds}
        self.checks, self.in_epoch, self.excluded, self.clock = [], 0, 0.0, time.perf_counter()
        return record


def with_epoch_seconds(measure):
    """An ``on_epoch_end`` that adds the epoch's training time in ``seconds`` to ``measure(epoch)``.

    The time runs from the end of the previous epoch's measuring (or from this call) to this
    epoch's end, so the measuring itself is not counted.
    """
    clock = [time.perf_counter()]

    def record(epoch):
        seconds = time.perf_counter() - clock[0]
        values = {**measure(epoch), "seconds": seconds}
        clock[0] = time.perf_counter()
        return values

    return record


def training_seconds(history):
    """The training time of a history, the sum of its epochs' ``seconds``; None when an epoch lacks it."""
    if not history or any("seconds" not in record for record in history):
        return None
    return float(sum(record["seconds"] for record in history))


def describe_pretraining(history, n_photos):
    """One sentence on the pretraining's validation L1 against grey's, from its history (Markdown).

    Parameters
    ----------
    history : list of dict
        :func:`pretrain`'s records; one written before validation was recorded gets a sentence saying so.
    n_photos : int
        Validation photos the losses were measured on.
    """
    if not history or "val_L1" not in history[-1]:
        return "This history predates validation losses: rerun with `resume=False` to record them."
    checks = [check for record in history for check in record.get("checks", ()) if "val_L1" in check]
    if checks:  # the first check within the first epoch, so that even one epoch says where it started
        first, start = checks[0]["val_L1"], f"at step {checks[0]['step']:,}"
    else:
        first, start = history[0]["val_L1"], "after epoch 1"
    last, grey = history[-1]["val_L1"], history[-1]["grey_L1"]
    verdict = "below" if last < grey else "not below"
    return (f"On {n_photos} validation photos the generator's L1 went from {first:.4f} {start} to "
            f"{last:.4f} after epoch {history[-1]['epoch']}, {verdict} the {grey:.4f} of predicting no colour "
            "(grey). L1 rewards caution: a generator can lower it by painting less colour, so the pictures below, "
            "and notebook 05's colour-aware scores, say more than this number.")


@holds_run_folder
def train_gan(split, config, run_dir, show=None, log=print):
    """Train the conditional GAN from the pretrained generator; checkpoint each epoch.

    With ``config.gan_photos`` the GAN trains on that many of the training photos, drawn at
    random, in batches of ``config.gan_batch_size`` (when set). After every epoch the capstone's SSIM on ``config.ssim_images`` validation images and
    the epoch's training time in ``seconds`` join the history, which also keeps every step's
    losses (``step_losses``: one or two epochs are too few points for a curve). Every
    ``config.display_every`` steps (0: never) a figure of the same first validation photos
    (:data:`WATCHED_PHOTOS`), grey, through the pretrained generator, through the GAN as it is
    now and as they really are, is passed to ``show`` (e.g. IPython's ``display``): the capstone
    showed the current training batch, which changes every time.
    """
    seed_everything(config.seed)
    device, precision, processes = runtime(config)
    generator, spec, pretrained = load_generator(Path(run_dir) / PRETRAINED_FILE, device)
    if spec != (expected := GeneratorSpec.of_config(config)):
        raise ValueError(f"{PRETRAINED_FILE} in {run_dir} is a generator of {spec}, not of this config's "
                         f"{expected}: use the run folder of its own config")
    if not pretrained.get("complete", False):
        raise RuntimeError(f"pretraining in {run_dir} stopped after epoch {pretrained['epoch']}: "
                           "finish it (rerun notebook 03) before training the GAN")
    encoder = encoder_of(generator)
    generator = prepare(generator, config, device, processes)
    discriminator = prepare(PatchDiscriminator(filters=config.disc_filters, n_down=config.disc_layers), config, device, processes)
    weight = config.lambda_cross_entropy if config.gan_reconstruction == "cross_entropy" else config.lambda_l1
    gan = ColorizationGAN(generator, discriminator, config.gan_lr, (config.beta1, config.beta2), weight,
                          config.gan_mode, precision, config.micro_batches, config.gan_reconstruction,
                          spec.output_stride, encoder, config.gan_lr * config.encoder_lr_scale)
    val = validation_batch(split, config, config.ssim_images)

    @with_epoch_seconds
    def validation_ssim(epoch):
        fake_ab = predict_ab(unwrap(generator), val["L"], precision, spec=spec)
        return {"val_ssim": float(score_images(val["L"], fake_ab, val["ab"])["ssim"].mean())}

    watched = validation_batch(split, config, WATCHED_PHOTOS)
    before = predict_ab(unwrap(generator), watched["L"], precision, spec=spec)

    def show_progress(step, L, ab):  # the same validation photos every time, beside the pretrained generator's
        if show is not None and config.display_every and step % config.display_every == 0:
            now = predict_ab(unwrap(generator), watched["L"], precision, spec=spec)
            figure = show_comparison(watched["L"], {"pretrained (the GAN's start)": before,
                                                    f"GAN after step {step}": now}, watched["ab"], size=1.8)
            show(figure)
            plt.close(figure)

    split = training_subset(split, config.gan_photos, config.seed)
    checkpoint = StageCheckpoint(Path(run_dir) / GAN_FILE, "gan",
                                 f"{training_photos(split)} after {pretrained['step']} pretraining steps",
                                 {"weights": pretrained["weights"], "spec": spec.asdict()})
    gan_config = config.replace(batch_size=config.gan_batch_size or config.batch_size)
    history = fit(gan, datasets(split, config)[0], config.gan_epochs, gan_config, device, checkpoint, processes,
                  on_epoch_end=validation_ssim, on_step=show_progress if processes.is_main else None, log=log,
                  keep_step_losses=True)
    if processes.is_main:
        save_json(Path(run_dir) / GAN_HISTORY_FILE, history)
    return unwrap(generator), history


@holds_run_folder
def train_everything(config, run_dir, log=print):
    """Split, pretrain and train the GAN in one go (one process, or each process under torchrun).

    The main process writes the split; the others wait for it and read it.
    """
    _, _, processes = runtime(config)
    if processes.is_main:
        make_split(config, run_dir, log)
    barrier(processes)
    split = load_split(run_dir)
    generator, weights = new_generator(config, verbose=processes.is_main)
    pretrain(generator, split, config, run_dir, weights, log)
    barrier(processes)  # the GAN starts from the checkpoint the main process wrote
    train_gan(split, config, run_dir, log=log)


def checkpoint_for_run(config, run_dir, log=print):
    """The checkpoint of the run's best generator and its chroma scale, pretraining one if the run has none.

    Best is the row the run's evaluation (notebook 05) ships (:func:`colorlib.shipping.shipped_row`):
    the most colourful generator, as predicted or with its chroma calibrated, that beats grey on
    AuC, does not lose to it on CIEDE2000 and keeps half the photos' colourfulness. Before any
    evaluation it is the GAN's, else the pretrained one, as predicted.
    Pretraining follows ``config`` (notebooks 01 and 03 in one call): with the smoke profile it
    takes about a minute.

    Returns
    -------
    checkpoint : Path
    chroma_scale : float
        What to scale its a*b* by (1: as predicted).
    """
    run_dir = Path(run_dir)
    present = {name: run_dir / file for name, file in RUN_CHECKPOINTS.items() if (run_dir / file).is_file()}
    best = shipped_generator(run_dir)
    if best and best[0] in present:
        name, scale = best
        how = "as predicted" if scale == 1.0 else f"its a*b* scaled by {scale:g}"
        log(f"the {name} generator, {how}: the one the run's evaluation ships")
        return present[name], scale
    if present:
        return present.get("gan") or present["pretrained"], 1.0
    log(f"no generator in the run folder yet: pretraining one ({config.profile} profile)")
    if (run_dir / SPLIT_FILE).is_file():
        split = load_split(run_dir)
    else:
        split = make_split(config, run_dir, log=log)
    generator, weights = new_generator(config, verbose=False)
    pretrain(generator, split, config, run_dir, weights, log=log)
    return run_dir / PRETRAINED_FILE, 1.0
