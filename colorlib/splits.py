"""The data stage (notebook 01): the run's photos found, checked and split, and the datasets they give.

``make_split`` writes ``split.json`` and ``data_manifest.csv`` into the run folder; every later
stage reads the split back with ``load_split`` and builds its datasets from it, so a run
trains and scores on exactly the photos notebook 01 chose.
"""
import dataclasses
import hashlib
import os
import random
import warnings
from pathlib import Path

import torch

from colorlib.atomic import write_file
from colorlib.cache import LabCache, check_digest, file_digest
from colorlib.checkpoints import (
    MANIFEST_FILE,
    SPLIT_FILE,
    holds_run_folder,
    load_json,
    save_json,
)
from colorlib.dataset import ColorizationDataset, LabTensorDataset
from colorlib.images import scan_images
from colorlib.lab import dequantise_lab
from colorlib.markup import csv_text
from colorlib.memory import check_run_memory
from colorlib.sources import NAMED_SOURCES, list_images, relative_names, resolve_data, split_paths


@dataclasses.dataclass
class Split:
    """The run's training and validation images, where they came from, and what was set aside."""

    source: str
    reason: str
    train: list
    val: list
    digests: dict  # path -> sha256 of the file, the cache's key
    counts: dict  # found, kept, excluded by reason (see colorlib.images.REASONS)


SEED_LIMIT = 2**32  # numpy's RandomState, which draws the split, takes seeds from 0 to 2**32 - 1


def check_run_settings(config):
    """Refuse, before anything is written, what notebook 01 would stop at later.

    A seed numpy cannot take, and a ``data`` or ``extra_train_data`` folder that is missing, a
    file, or holds no photos; folders are named as they were given.

    Raises
    ------
    ValueError, FileNotFoundError, NotADirectoryError
    """
    if not 0 <= config.seed < SEED_LIMIT:
        raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, got {config.seed}")
    folders = [] if config.data in NAMED_SOURCES else [config.data]
    folders += [folder.strip() for folder in config.extra_train_data.split(",") if folder.strip()]
    with warnings.catch_warnings():  # entries left out are named when the split is made, once
        warnings.simplefilter("ignore")
        for folder in folders:
            list_images(folder)


@holds_run_folder
def make_split(config, run_dir, log=print):
    """Find, check and split the photos; write ``split.json`` and ``data_manifest.csv``.

    Every file is checked once (:func:`colorlib.images.scan_images`): unreadable, too small,
    greyscale and near-colourless photos are set aside and counted, and a photo stored twice
    is kept once, so it can never land on both sides of the split. Photos from
    ``config.extra_train_data`` (one folder, or several separated by commas) only ever join the
    training side.
    """
    check_run_settings(config)
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
    check_run_memory(len(train), len(val), config, log=log)  # before anything is written or trained
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
    """One row per file: name (relative to the source), bytes, width, height, split or reason, sha256.

    A name that a spreadsheet would read as a formula (``=HYPERLINK(...).jpg``) is written with a
    leading ``'`` (:func:`colorlib.markup.spreadsheet_safe`).
    """
    files = list(split.train) + list(split.val) + list(scan.excluded)
    sides = {**{p: "train" for p in split.train}, **{p: "val" for p in split.val},
             **{p: f"excluded: {reason}" for p, reason in scan.excluded.items()}}
    rows = [["file", "bytes", "width", "height", "split", "sha256"]]
    for name, relative in zip(files, relative_names(files)):
        width, height = scan.sizes.get(name, ("", ""))
        rows.append([relative, os.path.getsize(name), width, height, sides[name], split.digests.get(name, "")])
    write_file(path, csv_text(rows))


def load_split(run_dir):
    """Read the split written by notebook 01 (:func:`make_split`)."""
    path = Path(run_dir) / SPLIT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebook 01 (or `make all`) first")
    fields = load_json(path)
    expected = [field.name for field in dataclasses.fields(Split)]
    if not isinstance(fields, dict) or sorted(fields) != sorted(expected):
        found = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
        raise ValueError(f"{path} holds {found}, expected the fields {expected}: "
                         "rerun notebook 01 (or `make all`) to write it again")
    split = Split(**fields)
    for photo, digest in split.digests.items():
        check_digest(digest, f"{path}: the digest of {photo}")
    return split


def training_photos(split):
    """A fingerprint of the training photos' contents (sha256 of their sorted hashes)."""
    return hashlib.sha256("".join(sorted(split.digests[p] for p in split.train)).encode()).hexdigest()


def lab_tensors(paths, split, config):
    """The photos' cached Lab as 8-bit codes, (N, 3, photo_size, photo_size) uint8, computed on first use.

    See :meth:`colorlib.cache.LabCache.stack`; :func:`colorlib.lab.dequantise_lab` reads them.
    """
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


def training_ab(dataset, limit=4096, batch=64):
    """The ab of up to about ``limit`` training photos (a fixed spread of them), ``batch`` photos at a time.

    Yields (n, 2, S, S) float32 tensors, for :meth:`colorlib.bins.BinnedColour.fit_prior`:
    read whole, 5,300 photos' ab at 256 px took 2.8 GB beside the photos.
    """
    indices = list(range(0, len(dataset), max(1, len(dataset) // limit)))
    for start in range(0, len(indices), batch):
        chosen = indices[start:start + batch]
        if isinstance(dataset, LabTensorDataset):
            yield dequantise_lab(dataset.lab[chosen, 1:])
        else:
            yield torch.stack([dataset[i]["ab"] for i in chosen])


def datasets(split, config):
    """Training and validation datasets of a split: cached Lab tensors, or decoded each time.

    Photos are held at ``config.photo_size``; training items are random crops of them at
    ``config.size`` when the two differ or ``config.crop_scale`` is below 1.
    """
    check_run_memory(len(split.train), len(split.val), config, log=lambda line: None)  # before loading the photos
    cropped = config.photo_size != config.size or config.crop_scale < 1
    crop = {"crop_size": config.size if cropped else None, "min_scale": config.crop_scale}
    if not config.cache:
        return (ColorizationDataset(split.train, "train", config.photo_size, **crop),
                ColorizationDataset(split.val, "val", config.photo_size))
    return (LabTensorDataset(lab_tensors(split.train, split, config), "train", **crop),
            LabTensorDataset(lab_tensors(split.val, split, config), "val"))


def validation_batch(split, config, n=None):
    """The first n validation images as one {"L", "ab"} batch (all of them when n is None)."""
    lab = dequantise_lab(lab_tensors(split.val[:n] if n else split.val, split, config))
    return {"L": lab[:, :1], "ab": lab[:, 1:]}
