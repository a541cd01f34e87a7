"""The ``evaluate`` command: a checkpoint's generator and the baselines scored on any photos.

``python -m colorlib evaluate --checkpoint CKPT [--data DATA] [--out DIR] [--size N]`` (see
:mod:`colorlib.cli`) runs the pipeline notebook 05 runs (:func:`colorlib.evaluation.score_and_write`)
on the run's validation split or on photos of the reader's own.
"""
from pathlib import Path

from colorlib.checkpoints import (
    METRICS_FILE,
    PER_IMAGE_FILE,
    SPLIT_FILE,
    load_generator,
    load_json,
)
from colorlib.config import Config
from colorlib.evaluation import dataset_ab_mean, score_and_write
from colorlib.images import scan_images
from colorlib.runtime import pick_device
from colorlib.shipping import BASELINE, CALIBRATED
from colorlib.sources import resolve_data, shared_images
from colorlib.tables import format_ci_table

STAGE_NAMES = {"pretrain": "pretrained", "gan": "gan"}


def evaluate_command(checkpoint, data=None, out_dir="evaluation", size=None, batch_size=16, device="auto",
                     log=print):
    """Score a checkpoint's generator and the baselines on a set of images; write the results.

    What ``python -m colorlib evaluate --checkpoint CKPT [--data DATA] [--out DIR] [--size N]``
    runs. Every image is scored for the generator ("pretrained" or "gan", after the stage
    that wrote the checkpoint; "model" for an export), the same with its chroma calibrated
    ("<name>_calibrated", :func:`evaluate_calibrated`, from two images on), no colour at all
    ("grey", the baseline the others are compared with) and the training images' mean colour
    ("mean_ab", when the run's ``split.json`` lies beside the checkpoint and its training images
    are on disk). Forward passes run in fp32, so results do not depend on the hardware's
    mixed-precision support, and match notebook 05's.

    Parameters
    ----------
    checkpoint : path-like
        A checkpoint written by training, e.g. ``runs/cpu/gan.pt``.
    data : str, optional
        The images to score, as :func:`colorlib.sources.resolve_data` takes them (a folder,
        ``"samples"``, ``"coco_sample"`` or ``"auto"``); None scores the run's validation split
        (from ``split.json`` beside the checkpoint), as notebook 05 does.
    out_dir : path-like
        Where ``metrics.json`` and ``per_image.csv`` are written; created if missing.
    size : int, optional
        Side of the square the images are resized to and scored at; None: the run's photo size
        (its ``load_size``, else its training size). The generator sees them at its training size.
    batch_size : int
        Images read, predicted and scored together.
    device : str
        "auto", "cpu", "cuda" or "mps".
    log : callable
        Receives progress lines and, at the end, the table of results.

    Returns
    -------
    dict
        What was written to ``metrics.json`` (see :func:`colorlib.evaluation.write_evaluation`).
    """
    generator, spec, state = load_generator(checkpoint, pick_device(device))
    size = size or Config(**state["config"]).photo_size
    split = _run_split(checkpoint)
    if data is None and split is None:
        raise FileNotFoundError(f"no {SPLIT_FILE} beside {checkpoint}: name the images to score with --data")
    paths = split["val"] if data is None else checked_photos(resolve_data(data).paths, log)
    described = "the run's validation split" if data is None else data
    log(f"scoring {len(paths)} images ({described}) at {size} px")
    train = split["train"] if split and all(Path(p).is_file() for p in split["train"]) else None
    seen_in_training = shared_images(train, paths) if train else 0
    if train is None:
        log(f"no mean_ab baseline: no {SPLIT_FILE} beside the checkpoint, or its training images are missing")
    elif seen_in_training:
        log(f"warning: {seen_in_training} of these images were training images")
    train_ab_mean = None if train is None else dataset_ab_mean(train, size, batch_size)
    name = STAGE_NAMES.get(state.get("stage"), "model")
    if spec.chroma_scale != 1.0:
        log(f"note: this export paints its colours scaled by {spec.chroma_scale:g}, a scale fitted on its "
            f"run's validation photos; the {name} row scores it as it is, the {name}{CALIBRATED} row from "
            "the colours as predicted")
    info = {"checkpoint": Path(checkpoint).name, "stage": state.get("stage"), "weights": state.get("weights"),
            "data": "validation split" if data is None else str(data), "training_images_scored": seen_in_training}
    metrics, _ = score_and_write({name: (generator, spec)}, paths, size, out_dir, info, train_ab_mean, batch_size,
                                 log=log)
    log(format_ci_table(metrics["summary"], BASELINE))
    log(f"wrote {METRICS_FILE} and {PER_IMAGE_FILE} into {out_dir}")
    return metrics


def checked_photos(paths, log=print):
    """The usable colour photos among paths (see :func:`colorlib.images.scan_images`), saying what was set aside."""
    scan = scan_images(paths)
    log(scan.summary())
    if not scan.kept:
        raise FileNotFoundError("none of the images can be scored: every file was set aside (see above)")
    return scan.kept


def _run_split(checkpoint):
    """The run's split (``split.json`` beside the checkpoint), or None."""
    split_file = Path(checkpoint).parent / SPLIT_FILE
    return load_json(split_file) if split_file.is_file() else None
