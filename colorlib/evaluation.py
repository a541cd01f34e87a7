"""The evaluate command's engine: score a trained generator and two baselines on a set of images.

Writes ``metrics.json`` (means with bootstrap intervals, and differences from the grey baseline)
and ``per_image.csv`` (one row per image and model) into an output folder.
"""
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from colorlib.atomic import write_file
from colorlib.cache import LabCache
from colorlib.calibration import (
    CHROMA_SCALES,
    FOLDS,
    best_scale,
    chroma_errors,
    cross_fitted_scales,
    fold_count,
)
from colorlib.checkpoints import (
    METRICS_FILE,
    PER_IMAGE_FILE,
    PRETRAINED_FILE,
    RUN_CHECKPOINTS,
    load_checkpoint,
    load_generator,
    save_json,
)
from colorlib.dataset import ColorizationDataset
from colorlib.metrics import HIGHER_IS_BETTER, grey_ab, score_images, summarize_with_ci
from colorlib.markup import csv_text
from colorlib.predict import predict_ab
from colorlib.runtime import pick_device
from colorlib.shipping import BASELINE, CALIBRATED, chosen_scale, shipped_row
from colorlib.sources import relative_names


def mean_ab_baseline(train_ab_mean, shape):
    """The mean-colour baseline's prediction: the training images' mean ab at every pixel.

    Parameters
    ----------
    train_ab_mean : sequence of 2 floats
        Mean normalised a and b over the training images (:func:`dataset_ab_mean`).
    shape : tuple
        (N, 2, H, W), the shape of the prediction.

    Returns
    -------
    Tensor, float32
    """
    return torch.as_tensor(train_ab_mean, dtype=torch.float32).view(1, 2, 1, 1).expand(shape).contiguous()


def dataset_ab_mean(paths, size, batch_size=16):
    """Mean normalised a and b over images resized to size x size, as two floats."""
    total = torch.zeros(2, dtype=torch.float64)
    for batch in photo_batches(paths, size, batch_size):
        total += batch["ab"].double().sum(dim=(0, 2, 3))
    return (total / (len(paths) * size * size)).tolist()


def training_ab_mean(split, config, batch_size=16):
    """Mean normalised a and b of a run's training photos at its photo size, as two floats.

    Read from the Lab cache that training filled, when the run has one: decoding some ten
    thousand photos again took most of notebook 05's scoring time. The cache holds float16,
    which moves the mean by less than 1e-4 of the a*b* range.
    """
    if not config.cache:
        return dataset_ab_mean(split.train, config.photo_size, batch_size)
    cache = LabCache(config.photo_size, config.cache_dir or None)
    total = torch.zeros(2, dtype=torch.float64)
    for path in split.train:
        total += cache.get(path)[1:].double().sum(dim=(1, 2))
    return (total / (len(split.train) * config.photo_size ** 2)).tolist()


def photo_batches(paths, size, batch_size):
    return DataLoader(ColorizationDataset(paths, "val", size), batch_size=batch_size, shuffle=False)


def evaluate_generators(generators, paths, size, batch_size=16, precision="fp32", train_ab_mean=None):
    """Score generators, the grey baseline and (when given) the mean-colour baseline on images.

    Images are read, predicted and scored a batch at a time, so memory does not grow with
    their number.

    Parameters
    ----------
    generators : dict
        {name: (nn.Module predicting normalised ab from normalised L, its GeneratorSpec)}, as
        :func:`run_generators` gives them; each is used on the device its weights are on.
    paths : sequence of path-like
    size : int
        Side of the square the images are resized to and scored at; each generator sees them
        at its spec's training size, its a*b* scaled by its spec's chroma scale
        (see :func:`colorlib.predict.predict_ab`).
    batch_size : int
    precision : {"fp32", "bf16"}
        Of the generators' forward passes.
    train_ab_mean : sequence of 2 floats, optional
        The training images' mean normalised ab; adds the "mean_ab" baseline.

    Returns
    -------
    dict
        {"grey", "mean_ab" (when ``train_ab_mean`` is given), each generator's name: {metric:
        ndarray of shape (len(paths),)}}, images in the order of ``paths``, metrics as
        :func:`colorlib.metrics.score_images` returns them.
    """
    batch_scores = defaultdict(list)
    for batch in photo_batches(paths, size, batch_size):
        for name, fake_ab in predictions(batch, generators, precision, train_ab_mean).items():
            batch_scores[name].append(score_images(batch["L"], fake_ab, batch["ab"]))
    return _joined(batch_scores)


def _joined(batch_scores):
    """{name: [per-batch {metric: ndarray}]} as {name: {metric: ndarray over all images}}."""
    return {name: {metric: np.concatenate([scores[metric] for scores in batches]) for metric in batches[0]}
            for name, batches in batch_scores.items()}


def predictions(batch, generators, precision="fp32", train_ab_mean=None):
    """{name: predicted ab} of the baselines and generators for an {"L", "ab"} batch."""
    ab = batch["ab"]
    predicted = {BASELINE: grey_ab(ab)}
    if train_ab_mean is not None:
        predicted["mean_ab"] = mean_ab_baseline(train_ab_mean, ab.shape)
    for name, (generator, spec) in generators.items():
        predicted[name] = generator_ab(generator, spec, batch["L"], precision)
    return predicted


def generator_ab(generator, spec, L, precision="fp32"):
    """A generator's ab for a batch of L, predicted at its spec's training size and laid onto L."""
    return predict_ab(generator, L, precision, len(L), spec)


def evaluate_calibrated(generators, paths, size, batch_size=16, precision="fp32", folds=FOLDS):
    """Score each generator with its a*b* scaled towards grey by a chroma scale fitted out of sample.

    Each image is scored with the scale that gives the lowest mean CIEDE2000 on the images of
    the other folds (:func:`colorlib.calibration.cross_fitted_scales`), never on itself. Scales
    apply to the colours as the network predicts them, whatever chroma scale a generator's
    spec carries: the scale found means the same for a training checkpoint and for an export
    calibrated before. Two passes over the images: one for the errors at every scale, one for the scores.

    Parameters
    ----------
    generators, paths, size, batch_size, precision
        As :func:`evaluate_generators` takes them.
    folds : int

    Returns
    -------
    scores : dict
        {"<name>_calibrated": {metric: per-image ndarray}}, as :func:`evaluate_generators` gives.
    calibration : dict
        Plain data: "scales" tried, "folds" (as dealt: at most one per image), each
        generator's "mean_ciede2000" at every scale, and "chosen", the scale fitted on all the
        images: the one to colorize new photos with.
    """
    as_predicted = {name: (generator, spec.replace(chroma_scale=1.0)) for name, (generator, spec) in generators.items()}
    return _calibrated_scores(as_predicted, paths, size, batch_size, precision, fold_count(folds, len(paths)))


def _calibrated_scores(generators, paths, size, batch_size, precision, folds):
    errors = defaultdict(list)
    for batch in photo_batches(paths, size, batch_size):
        for name, (generator, spec) in generators.items():
            fake_ab = generator_ab(generator, spec, batch["L"], precision)
            errors[name].append(chroma_errors(batch["L"], fake_ab, batch["ab"]))
    errors = {name: np.concatenate(parts, axis=1) for name, parts in errors.items()}
    per_image = {name: cross_fitted_scales(values, folds=folds) for name, values in errors.items()}
    batch_scores, start = defaultdict(list), 0
    for batch in photo_batches(paths, size, batch_size):
        end = start + len(batch["L"])
        for name, (generator, spec) in generators.items():
            scales = torch.as_tensor(per_image[name][start:end], dtype=torch.float32).view(-1, 1, 1, 1)
            fake_ab = scales * generator_ab(generator, spec, batch["L"], precision)
            batch_scores[name + CALIBRATED].append(score_images(batch["L"], fake_ab, batch["ab"]))
        start = end
    calibration = {"scales": list(CHROMA_SCALES), "folds": folds,
                   "mean_ciede2000": {name: values.mean(axis=1).tolist() for name, values in errors.items()},
                   "chosen": {name: best_scale(values) for name, values in errors.items()}}
    return _joined(batch_scores), calibration


def run_generators(run_dir, device="cpu"):
    """{"pretrained", "gan": (generator, spec)} for the checkpoints a run folder holds, in that order."""
    return {name: load_generator(Path(run_dir) / file, device)[:2]
            for name, file in RUN_CHECKPOINTS.items() if (Path(run_dir) / file).is_file()}


def evaluate_run(split, config, run_dir, batch_size=16, log=print):
    """Score the run's generators and both baselines on its validation images; write the results.

    Writes ``metrics.json`` and ``per_image.csv`` into the run folder, through the same code as
    ``python -m colorlib evaluate`` (fp32 forward passes, full-precision images).

    Returns
    -------
    metrics : dict
        What ``metrics.json`` holds (see :func:`write_evaluation`).
    scores : dict
        {model: {metric: per-image ndarray}}.
    """
    generators = run_generators(run_dir, pick_device(config.device))
    log(f"scoring {len(split.val)} validation images at {config.photo_size} px: grey, mean_ab, {', '.join(generators)}")
    train_ab_mean = training_ab_mean(split, config, batch_size)
    weights = load_checkpoint(Path(run_dir) / PRETRAINED_FILE, mmap=True).get("weights") if generators else None
    info = {"profile": config.profile, "source": split.source, "weights": weights}
    return score_and_write(generators, split.val, config.photo_size, run_dir, info, train_ab_mean, batch_size,
                           ship=True, log=log)


def score_and_write(generators, paths, size, out_dir, info, train_ab_mean=None, batch_size=16, ship=False,
                    log=print, min_verdict_images=0):
    """The one scoring pipeline of notebook 05 and ``python -m colorlib evaluate``.

    Every image is scored for each generator, the same with its chroma calibrated
    (:func:`add_calibrated`), grey and, given ``train_ab_mean``, the mean colour; the results are
    written by :func:`write_evaluation` with ``info``, the size, the mean colour and the
    calibration recorded, and no verdict against grey from fewer than ``min_verdict_images`` images.

    Returns
    -------
    metrics : dict
        What ``metrics.json`` holds.
    scores : dict
        {model: {metric: per-image ndarray}}.
    """
    scores = evaluate_generators(generators, paths, size, batch_size, "fp32", train_ab_mean)
    calibration = add_calibrated(scores, generators, paths, size, batch_size, log)
    info = {**info, "size": size, "train_ab_mean": train_ab_mean, "calibration": calibration}
    return write_evaluation(out_dir, scores, relative_names(paths), info, ship, min_verdict_images), scores


def add_calibrated(scores, generators, paths, size, batch_size=16, log=print):
    """Add each generator's chroma-calibrated row to scores (:func:`evaluate_calibrated`).

    Returns
    -------
    dict or None
        The calibration (plain data); None when there is no generator or fewer than two images
        (an out-of-sample scale needs other images to be fitted on).
    """
    if not generators or len(paths) < 2:
        return None
    folds = fold_count(FOLDS, len(paths))
    log(f"calibrating chroma: each image scored with the scale fitted on the others ({folds}-fold cross-fitting)")
    calibrated, calibration = evaluate_calibrated(generators, paths, size, batch_size)
    scores.update(calibrated)
    return calibration


def examples(paths, generators, size, train_ab_mean=None):
    """The {"L", "ab"} batch of some images and every model's predicted ab, for figures."""
    batch = next(iter(photo_batches(paths, size, len(paths))))
    return {**batch, **predictions(batch, generators, "fp32", train_ab_mean)}


def write_evaluation(out_dir, scores, names, info=None, ship=False, min_verdict_images=0):
    """Write ``metrics.json`` and ``per_image.csv`` for scores of several models on the same images.

    Parameters
    ----------
    out_dir : path-like
        Created if missing.
    scores : dict
        {model: {metric: per-image ndarray}}, as :func:`evaluate_generator` returns; must
        include the "grey" baseline.
    names : sequence of str
        The images' names, in the order of the scores.
    info : dict, optional
        Plain data recorded at the top of ``metrics.json`` (checkpoint, data, size, ...).
    ship : bool
        Name the row a run ships (:func:`colorlib.shipping.shipped_row`) under ``"shipped"``, and whether it
        meets the rule under ``"shipped_meets_rule"``.
    min_verdict_images : int
        With fewer images, every row's ``beats_baseline`` is None (no verdict) and
        ``"verdicts_withheld"`` says why (:data:`colorlib.statistics.MIN_VERDICT_IMAGES`).

    Returns
    -------
    dict
        What ``metrics.json`` holds: ``info``'s entries, ``n_images``, ``baseline``,
        ``higher_is_better`` and ``summary`` (:func:`colorlib.metrics.summarize_with_ci`).
        ``per_image.csv`` writes a name that a spreadsheet would take for a formula with a
        leading ``'`` (:func:`colorlib.markup.spreadsheet_safe`).
    """
    out_dir = Path(out_dir)
    metrics = {
        **(info or {}),
        "n_images": len(names),
        "baseline": BASELINE,
        "higher_is_better": {metric: HIGHER_IS_BETTER.get(metric) for metric in scores[BASELINE]},
        "summary": summarize_with_ci(scores, BASELINE),
    }
    if len(names) < min_verdict_images:
        metrics["verdicts_withheld"] = (f"{len(names)} images: a verdict against {BASELINE} needs at least "
                                        f"{min_verdict_images}")
        for row in (row for rows in metrics["summary"].values() for row in rows.values() if "beats_baseline" in row):
            row["beats_baseline"] = None
    if ship and shipped_row(metrics):
        metrics["shipped"], metrics["shipped_meets_rule"] = shipped_row(metrics, scores=scores)
        metrics["shipped_chroma_scale"] = chosen_scale(metrics, metrics["shipped"])
    save_json(out_dir / METRICS_FILE, metrics)
    metric_names = list(scores[BASELINE])
    rows = [[name, model, *(float(values[metric][i]) for metric in metric_names)]
            for i, name in enumerate(names) for model, values in scores.items()]
    write_file(out_dir / PER_IMAGE_FILE, csv_text([["file", "model", *metric_names], *rows]))
    return metrics
