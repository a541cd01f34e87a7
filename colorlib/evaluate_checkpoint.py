"""The ``evaluate`` command: a checkpoint's generator and the baselines scored on any photos.

``python -m colorlib evaluate --checkpoint CKPT [--data DATA] [--out DIR] [--size N]`` (see
:mod:`colorlib.cli`) runs the pipeline notebook 05 runs (:func:`colorlib.evaluation.score_and_write`)
on the run's validation split or on photos of the reader's own.
"""
import math
from pathlib import Path

from colorlib.atomic import output_folder
from colorlib.checkpoints import (
    METRICS_FILE,
    PER_IMAGE_FILE,
    SPLIT_FILE,
    load_generator,
    load_json,
)
from colorlib.config import Config
from colorlib.evaluation import dataset_ab_mean, score_and_write
from colorlib.images import MemoryBudget, available_memory, scan_images
from colorlib.models import MAX_SIZE
from colorlib.predict import square_bytes
from colorlib.runtime import pick_device
from colorlib.shipping import BASELINE, CALIBRATED
from colorlib.sources import resolve_data, shared_images
from colorlib.statistics import MIN_VERDICT_IMAGES
from colorlib.tables import format_ci_table, format_means_table

STAGE_NAMES = {"pretrain": "pretrained", "gan": "gan"}
MIN_SIZE = 32  # the encoder halves the square five times
# Scoring's memory per pixel of the square the photos are scored at (peak resident memory above
# the loaded generator, 512 to 2048 px, batches of 2 and 4: 570 to 920 bytes a pixel of a photo
# in all). Each photo of a batch is held as float32 L*, a*b* and predictions; the metrics then
# take one photo at a time through float64 RGB, Lab and CIEDE2000 temporaries. These bound both.
SCORE_BATCH_PIXEL_BYTES = 100
SCORE_PHOTO_PIXEL_BYTES = 1000


def evaluate_command(checkpoint, data=None, out_dir="evaluation", size=None, batch_size=16, device="auto",
                     max_memory=None, log=print):
    """Score a checkpoint's generator and the baselines on a set of images; write the results.

    What ``python -m colorlib evaluate --checkpoint CKPT [--data DATA] [--out DIR] [--size N]``
    runs. Every image is scored for the generator ("pretrained" or "gan", after the stage
    that wrote the checkpoint; "model" for an export), the same with its chroma calibrated
    ("<name>_calibrated", :func:`evaluate_calibrated`, from two images on), no colour at all
    ("grey", the baseline the others are compared with) and the training images' mean colour
    ("mean_ab", when the run's ``split.json`` lies beside the checkpoint and its training images
    are on disk). Forward passes run in fp32, so results do not depend on the hardware's
    mixed-precision support, and match notebook 05's. From fewer than
    :data:`colorlib.statistics.MIN_VERDICT_IMAGES` images no verdict against grey is given: the
    table shows means only and ``metrics.json`` no ``beats_baseline``.

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
        Side of the square the images are resized to and scored at, 32 to 2048 pixels; None: the
        run's photo size (its ``load_size``, else its training size). The generator sees them at
        its training size.
    batch_size : int
        Images read, predicted and scored together.
    device : str
        "auto", "cpu", "cuda" or "mps".
    max_memory : int, optional
        Bytes scoring may use; None: what the machine has available. A size that would need more
        is refused before any image is read (:func:`check_scoring_memory`).
    log : callable
        Receives progress lines and, at the end, the table of results.

    Returns
    -------
    dict
        What was written to ``metrics.json`` (see :func:`colorlib.evaluation.write_evaluation`).

    Raises
    ------
    ValueError
        For a size outside 32 to 2048, or a ``split.json`` beside the checkpoint without its
        "train" and "val" lists.
    NotADirectoryError
        When ``out_dir`` is a file.
    MemoryError
        When scoring at ``size`` would need more memory than it may use, naming the size that fits.
    """
    output_folder(out_dir, "--out")
    generator, spec, state = load_generator(checkpoint, pick_device(device))
    size = size or Config(**state["config"]).photo_size
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size {size}: expected a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}")
    check_scoring_memory(spec, size, batch_size, max_memory)
    split = _run_split(checkpoint)
    if data is None and split is None:
        raise FileNotFoundError(f"no {SPLIT_FILE} beside {checkpoint}: name the images to score with --data")
    paths = split["val"] if data is None else checked_photos(resolve_data(data).paths, log)
    described = "the run's validation split" if data is None else data
    log(f"scoring {len(paths)} images ({described}) at {size} px")
    verdicts = len(paths) >= MIN_VERDICT_IMAGES
    if not verdicts:
        log(f"note: {len(paths)} images are too few for a verdict against {BASELINE} (it needs at least "
            f"{MIN_VERDICT_IMAGES}): the table gives means only, and {METRICS_FILE} no verdicts")
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
                                 log=log, min_verdict_images=MIN_VERDICT_IMAGES)
    log((format_ci_table if verdicts else format_means_table)(metrics["summary"], BASELINE))
    log(f"wrote {METRICS_FILE} and {PER_IMAGE_FILE} into {out_dir}")
    return metrics


def checked_photos(paths, log=print):
    """The usable colour photos among paths (see :func:`colorlib.images.scan_images`), saying what was set aside."""
    scan = scan_images(paths)
    log(scan.summary())
    if not scan.kept:
        raise FileNotFoundError("none of the images can be scored: every file was set aside (see above)")
    return scan.kept


def check_scoring_memory(spec, size, batch_size, max_memory=None):
    """Refuse, before any image is read, a scoring square whose batches would not fit in memory.

    Parameters
    ----------
    spec : colorlib.models.GeneratorSpec
        The generator's: each batch passes through it at its training size.
    size : int
        Side of the square the images are scored at.
    batch_size : int
    max_memory : int, optional
        Bytes allowed; None: what the machine has available (no check where it does not say).

    Raises
    ------
    MemoryError
        Naming the memory needed, what is allowed and the largest ``--size`` that fits.
    """
    limit = available_memory() if max_memory is None else max_memory
    if limit is None:
        return
    budget = MemoryBudget(int(limit), batch_size * SCORE_BATCH_PIXEL_BYTES + SCORE_PHOTO_PIXEL_BYTES, "score",
                          fixed_bytes=batch_size * square_bytes(spec))
    need = budget.need(size, size)
    if need <= budget.limit:
        return
    where = "allowed (--max-memory)" if max_memory is not None else "available"
    room = (budget.limit - budget.fixed_bytes) / budget.bytes_per_pixel
    fits = math.isqrt(int(room)) if room > 0 else 0
    hint = (f"give --size {fits} or less" if fits >= MIN_SIZE
            else "close other programs or use a machine with more memory")
    raise MemoryError(f"scoring at --size {size} needs about {need / 1e9:.2f} GB (batches of {batch_size} images "
                      f"of {size} x {size} pixels and the generator's pass), but {budget.limit / 1e9:.2f} GB is "
                      f"{where}: {hint}")


def _run_split(checkpoint):
    """The run's split (``split.json`` beside the checkpoint), or None when there is none.

    Raises
    ------
    ValueError
        When the file does not hold the "train" and "val" lists of photos notebook 01 writes.
    """
    split_file = Path(checkpoint).parent / SPLIT_FILE
    if not split_file.is_file():
        return None
    split = load_json(split_file)
    if not (isinstance(split, dict) and all(isinstance(split.get(side), list) for side in ("train", "val"))):
        found = sorted(split) if isinstance(split, dict) else type(split).__name__
        raise ValueError(f"{split_file} holds {found}, expected the \"train\" and \"val\" lists of photos "
                         "notebook 01 writes: rerun notebook 01 (or `make all`), or name the images with --data")
    return split
