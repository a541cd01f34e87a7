"""The course's stages as functions, each handing its products to the next through files.

A run folder holds everything a run makes: ``split.json`` and the data manifest (notebook 01),
the pretrained generator and its history (03), the GAN checkpoint and its history (04); notebook
05 adds the metrics (:mod:`colorlib.evaluation`).
"""
import csv
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import random
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from colorlib.cache import LabCache, check_digest, file_digest
from colorlib.checkpoints import (
    GAN_FILE,
    GAN_HISTORY_FILE,
    MANIFEST_FILE,
    PRETRAIN_HISTORY_FILE,
    PRETRAINED_FILE,
    RUN_CHECKPOINTS,
    SPLIT_FILE,
    load_generator,
    load_json,
    run_lock,
    save_json,
)
from colorlib.config import PROFILES
from colorlib.dataset import ColorizationDataset, LabTensorDataset
from colorlib.distributed import barrier, init_processes, unwrap, wrap
from colorlib.evaluation import shipped_generator
from colorlib.images import scan_images
from colorlib.metrics import score_images
from colorlib.models import PatchDiscriminator, build_generator, encoder_of, freeze_encoder_norms
from colorlib.plots import show_gray_fake_real
from colorlib.predict import predict_ab, resized
from colorlib.runtime import pick_device, resolve_precision, seed_everything
from colorlib.sources import list_images, relative_names, resolve_data, split_paths
from colorlib.train import RESUMABLE_CHANGES, fit
from colorlib.trainers import ColorizationGAN, L1Pretrainer


@dataclasses.dataclass
class Split:
    """The run's training and validation images, where they came from, and what was set aside."""

    source: str
    reason: str
    train: list
    val: list
    digests: dict  # path -> sha256 of the file, the cache's key
    counts: dict  # found, kept, excluded by reason (see colorlib.images.REASONS)


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


def holds_run_folder(stage):
    """Run a stage holding its run folder's lock (:func:`colorlib.checkpoints.run_lock`), in the main process.

    Under torchrun only the main process writes, so it alone locks; the others follow it.
    """
    parameters = inspect.signature(stage)

    @functools.wraps(stage)
    def locked_stage(*args, **kwargs):
        run_dir = parameters.bind(*args, **kwargs).arguments["run_dir"]
        if int(os.environ.get("RANK", "0")) != 0:
            return stage(*args, **kwargs)
        with run_lock(run_dir):
            return stage(*args, **kwargs)

    return locked_stage


@holds_run_folder
def make_split(config, run_dir, log=print):
    """Find, check and split the photos; write ``split.json`` and ``data_manifest.csv``.

    Every file is checked once (:func:`colorlib.images.scan_images`): unreadable, too small,
    greyscale and near-colourless photos are set aside and counted, and a photo stored twice
    is kept once, so it can never land on both sides of the split. Photos from
    ``config.extra_train_data`` (one folder, or several separated by commas) only ever join the
    training side.
    """
    source = resolve_data(config.data)
    log(f"source: {source.name} ({source.reason})")
    # Absolute paths: the run folder is read from the notebooks' folder and from the repository's.
    scan = scan_images([Path(p).resolve() for p in source.paths], min_side=config.photo_size)
    digests = {p: file_digest(p) for p in scan.kept}
    unique = unique_by_content(digests, scan)
    log(scan.summary())
    if len(unique) < 2:
        raise FileNotFoundError(f"too few usable photos in the {source.name} source to split: {scan.summary()}")
    # n_images is a bound: a source holding fewer photos gives them all.
    train, val = split_paths(unique, min(config.n_images, len(unique)), config.val_fraction, config.seed)
    train, val = [str(p) for p in train], [str(p) for p in val]
    counts = scan.counts()
    if config.extra_train_data:
        folders = [folder for folder in config.extra_train_data.split(",") if folder.strip()]
        extra = scan_images([p.resolve() for folder in folders for p in list_images(folder.strip())],
                            min_side=config.photo_size)
        extra_digests = {p: file_digest(p) for p in extra.kept}
        extra_train = unique_by_content(extra_digests, extra, seen=set(digests.values()))
        train += draw_extra(extra_train, config.n_images - len(train) if config.n_images else None, config.seed, log)
        digests.update(extra_digests)
        log(f"extra training photos: {extra.summary()}")
        counts["extra_train"] = extra.counts()
        scan.excluded.update(extra.excluded)  # one manifest for every file the run looked at
        scan.sizes.update(extra.sizes)
    split = Split(source.name, source.reason, train, val, {p: digests[p] for p in train + val}, counts)
    save_json(Path(run_dir) / SPLIT_FILE, dataclasses.asdict(split))
    write_manifest(Path(run_dir) / MANIFEST_FILE, split, scan)
    return split


def draw_extra(paths, room, seed, log=print):
    """The extra training photos that fit in ``room`` (None: all), drawn at random with the seed, in order.

    ``n_images`` bounds the training side too, so that a profile's work stays bounded however
    many photos the extra folders hold; the main source's training photos always stay.
    """
    if room is None or len(paths) <= room:
        return list(paths)
    room = max(room, 0)
    log(f"{len(paths)} extra training photos: {room} drawn at random, so that training keeps to n_images")
    return [paths[i] for i in sorted(random.Random(seed).sample(range(len(paths)), room))]


def training_work(split, config):
    """Photos the run's training passes over, {"pretrain", "gan", "total"}: epochs x photos per epoch."""
    gan_photos = min(config.gan_photos or len(split.train), len(split.train))
    work = {"pretrain": config.pretrain_epochs * len(split.train), "gan": config.gan_epochs * gan_photos}
    return {**work, "total": sum(work.values())}


def work_budget(config):
    """The most photos a config's training can pass over, whatever its sources hold (None: unbounded).

    ``n_images`` bounds the training side (extra photos included), so the pretraining passes
    over at most ``pretrain_epochs x n_images`` photos and the GAN over ``gan_epochs x gan_photos``.
    """
    if not config.n_images:
        return None
    return config.pretrain_epochs * config.n_images + config.gan_epochs * (config.gan_photos or config.n_images)


def unique_by_content(digests, scan, seen=None):
    """Paths of distinct content, in order; later copies are recorded in the scan as duplicates."""
    seen = set() if seen is None else set(seen)
    unique = []
    for path, digest in digests.items():
        if digest in seen:
            scan.excluded[path] = "duplicate"
            scan.kept.remove(path)
        else:
            seen.add(digest)
            unique.append(path)
    return unique


def write_manifest(path, split, scan):
    """One row per file: name (relative to the source), bytes, width, height, split or reason, sha256."""
    files = list(split.train) + list(split.val) + list(scan.excluded)
    sides = {**{p: "train" for p in split.train}, **{p: "val" for p in split.val},
             **{p: f"excluded: {reason}" for p, reason in scan.excluded.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "bytes", "width", "height", "split", "sha256"])
        for name, relative in zip(files, relative_names(files)):
            width, height = scan.sizes.get(name, ("", ""))
            writer.writerow([relative, os.path.getsize(name), width, height, sides[name], split.digests.get(name, "")])


def load_split(run_dir):
    """Read the split written by notebook 01 (:func:`make_split`)."""
    path = Path(run_dir) / SPLIT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebook 01 (or `make all`) first")
    split = Split(**load_json(path))
    for photo, digest in split.digests.items():
        check_digest(digest, f"{path}: the digest of {photo}")
    return split


def training_photos(split):
    """A fingerprint of the training photos' contents (sha256 of their sorted hashes)."""
    return hashlib.sha256("".join(sorted(split.digests[p] for p in split.train)).encode()).hexdigest()


def lab_tensors(paths, split, config):
    """The photos' cached Lab tensors, (N, 3, photo_size, photo_size), computed on first use."""
    cache = LabCache(config.photo_size, config.cache_dir or None)
    # Each file is hashed again rather than trusting split.json's digest: a photo edited since
    # notebook 01 must not reuse its old tensor, and hashing costs a fraction of decoding.
    return cache.stack(paths)


def training_subset(split, n, seed):
    """The split with n of its training photos, drawn at random with the seed (all of them when n is 0 or more)."""
    if not n or n >= len(split.train):
        return split
    chosen = sorted(random.Random(seed).sample(range(len(split.train)), n))
    return dataclasses.replace(split, train=[split.train[i] for i in chosen])


def training_ab(dataset, limit=4096):
    """The ab of up to ``limit`` training photos (a fixed spread of them), as (N, 2, S, S) float32."""
    indices = range(0, len(dataset), max(1, len(dataset) // limit))
    if isinstance(dataset, LabTensorDataset):
        return dataset.lab[list(indices), 1:].float()
    return torch.stack([dataset[i]["ab"] for i in indices])


def datasets(split, config):
    """Training and validation datasets of a split: cached Lab tensors, or decoded each time.

    Photos are held at ``config.photo_size``; training items are random crops of them at
    ``config.size`` when the two differ or ``config.crop_scale`` is below 1.
    """
    cropped = config.photo_size != config.size or config.crop_scale < 1
    crop = {"crop_size": config.size if cropped else None, "min_scale": config.crop_scale}
    if not config.cache:
        return (ColorizationDataset(split.train, "train", config.photo_size, **crop),
                ColorizationDataset(split.val, "val", config.photo_size))
    return (LabTensorDataset(lab_tensors(split.train, split, config), "train", **crop),
            LabTensorDataset(lab_tensors(split.val, split, config), "val"))


def validation_batch(split, config, n=None):
    """The first n validation images as one {"L", "ab"} batch (all of them when n is None)."""
    lab = lab_tensors(split.val[:n] if n else split.val, split, config).float()
    return {"L": lab[:, :1], "ab": lab[:, 1:]}


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
                           config.temperature)


@holds_run_folder
def pretrain(generator, split, config, run_dir, weights="random", log=print):
    """L1-pretrain a generator on the split's training images; checkpoint each epoch.

    After every epoch the history also records the loss on the first ``config.ssim_images``
    validation photos, seen at the training size (``val_L1``, the same L1 the training reports;
    with ``head="classification"`` also ``val_cross_entropy``), the L1 of predicting no colour on
    those photos (``grey_L1``, the reference a generator has to beat) and the epoch's training
    time in ``seconds``. Resumes from the run folder's checkpoint when ``config.resume`` and it matches.
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
                           loss=config.head, encoder=encoder, encoder_lr=config.pretrain_lr * config.encoder_lr_scale)
    val = {k: resized(v, config.size) for k, v in validation_batch(split, config, config.ssim_images).items()}
    grey_l1 = float(val["ab"].abs().mean())  # predicting ab = 0 everywhere, computed once
    clock = [time.perf_counter()]

    def validation_losses(epoch):
        seconds = time.perf_counter() - clock[0]
        net = unwrap(generator)
        fake_ab = predict_ab(net, val["L"], precision)
        record = {"val_L1": float((fake_ab - val["ab"]).abs().mean()), "grey_L1": grey_l1, "seconds": seconds}
        if config.head == "classification":
            was_training = net.training
            net.eval()
            with torch.no_grad():
                record["val_cross_entropy"] = float(net.loss(val["L"].to(device), val["ab"].to(device)))
            net.train(was_training)
        clock[0] = time.perf_counter()
        return record

    history = fit(trainer, train_set, config.pretrain_epochs, config, device,
                  Path(run_dir) / PRETRAINED_FILE, "pretrain", processes, on_epoch_end=validation_losses, log=log,
                  extra_state={"weights": weights}, fingerprint=training_photos(split))
    if processes.is_main:
        save_json(Path(run_dir) / PRETRAIN_HISTORY_FILE, history)
    return history


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
    first, last, grey = history[0]["val_L1"], history[-1]["val_L1"], history[-1]["grey_L1"]
    verdict = "below" if last < grey else "not below"
    return (f"On {n_photos} validation photos the generator's L1 went from {first:.4f} after epoch 1 to "
            f"{last:.4f} after epoch {history[-1]['epoch']}, {verdict} the {grey:.4f} of predicting no colour "
            "(grey). L1 rewards caution: a generator can lower it by painting less colour, so the pictures below, "
            "and notebook 05's colour-aware scores, say more than this number.")


@holds_run_folder
def train_gan(split, config, run_dir, show=None, log=print):
    """Train the conditional GAN from the pretrained generator; checkpoint each epoch.

    With ``config.gan_photos`` the GAN trains on that many of the training photos, drawn at
    random. After every epoch the capstone's SSIM on ``config.ssim_images`` validation images and
    the epoch's training time in ``seconds`` join the history, which also keeps every step's
    losses (``step_losses``: one or two epochs are too few points for a curve). Every
    ``config.display_every`` steps (0: never) the
    Gray / Fake / Real figure of the current batch is passed to ``show`` (e.g. IPython's
    ``display``), as the capstone displayed it.
    """
    seed_everything(config.seed)
    device, precision, processes = runtime(config)
    generator, pretrained = load_generator(Path(run_dir) / PRETRAINED_FILE, device)
    if not pretrained.get("complete", False):
        raise RuntimeError(f"pretraining in {run_dir} stopped after epoch {pretrained['epoch']}: "
                           "finish it (rerun notebook 03) before training the GAN")
    generator = prepare(generator, config, device, processes)
    discriminator = prepare(PatchDiscriminator(), config, device, processes)
    weight = config.lambda_cross_entropy if config.gan_reconstruction == "cross_entropy" else config.lambda_l1
    gan = ColorizationGAN(generator, discriminator, config.gan_lr, (config.beta1, config.beta2), weight,
                          config.gan_mode, precision, config.micro_batches, config.gan_reconstruction)
    val = validation_batch(split, config, config.ssim_images)

    clock = [time.perf_counter()]

    def validation_ssim(epoch):
        seconds = time.perf_counter() - clock[0]
        fake_ab = predict_ab(unwrap(generator), val["L"], precision, size=config.size)
        record = {"val_ssim": float(score_images(val["L"], fake_ab, val["ab"])["ssim"].mean()), "seconds": seconds}
        clock[0] = time.perf_counter()
        return record

    def show_progress(step, L, ab):
        if show is not None and config.display_every and step % config.display_every == 0:
            figure = show_gray_fake_real(L, predict_ab(unwrap(generator), L, precision), ab)
            show(figure)
            plt.close(figure)

    split = training_subset(split, config.gan_photos, config.seed)
    history = fit(gan, datasets(split, config)[0], config.gan_epochs, config, device,
                  Path(run_dir) / GAN_FILE, "gan", processes, on_epoch_end=validation_ssim,
                  on_step=show_progress if processes.is_main else None, log=log,
                  extra_state={"weights": pretrained["weights"]}, keep_step_losses=True,
                  fingerprint=f"{training_photos(split)} after {pretrained['step']} pretraining steps")
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

    Best is the row the run's evaluation (notebook 05) ships (:func:`colorlib.evaluation.shipped_row`):
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
