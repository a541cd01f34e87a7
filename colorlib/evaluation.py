"""The evaluate command's engine: score a trained generator and two baselines on a set of images.

Writes ``metrics.json`` (means with bootstrap intervals, and differences from the grey baseline)
and ``per_image.csv`` (one row per image and model) into an output folder.
"""
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from colorlib.calibration import (
    CHROMA_SCALES,
    FOLDS,
    as_predicted,
    best_scale,
    chroma_errors,
    cross_fitted_scales,
    fold_count,
)
from colorlib.checkpoints import load_checkpoint, load_json, save_json
from colorlib.config import Config
from colorlib.dataset import ColorizationDataset
from colorlib.images import scan_images
from colorlib.lab import lightness
from colorlib.metrics import (
    HIGHER_IS_BETTER,
    ciede2000_jnd,
    colourfulness,
    colourfulness_word,
    format_ci_table,
    grey_ab,
    score_images,
    summarize_with_ci,
    win_rates,
)
from colorlib.plots import show_comparison, show_ranked
from colorlib.predict import predict_ab
from colorlib.runtime import pick_device
from colorlib.sources import relative_names, resolve_data, shared_images
from colorlib.stages import GAN_FILE, PRETRAINED_FILE, SPLIT_FILE, load_generator

METRICS_FILE = "metrics.json"
RUN_CHECKPOINTS = {"pretrained": PRETRAINED_FILE, "gan": GAN_FILE}  # a run's generators, in training order
PER_IMAGE_FILE = "per_image.csv"
BASELINE = "grey"
CALIBRATED = "_calibrated"  # suffix of a generator's row with its chroma calibrated (evaluate_calibrated)


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
    for batch in _batches(paths, size, batch_size):
        total += batch["ab"].double().sum(dim=(0, 2, 3))
    return (total / (len(paths) * size * size)).tolist()


def _batches(paths, size, batch_size):
    return DataLoader(ColorizationDataset(paths, "val", size), batch_size=batch_size, shuffle=False)


def evaluate_generators(generators, paths, size, batch_size=16, precision="fp32", train_ab_mean=None):
    """Score generators, the grey baseline and (when given) the mean-colour baseline on images.

    Images are read, predicted and scored a batch at a time, so memory does not grow with
    their number.

    Parameters
    ----------
    generators : dict
        {name: nn.Module predicting normalised ab from normalised L}, each used on the device
        its weights are on.
    paths : sequence of path-like
    size : int
        Side of the square the images are resized to and scored at; each generator sees them
        at its own training size (see :func:`colorlib.predict.predict_ab`).
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
    for batch in _batches(paths, size, batch_size):
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
    for name, generator in generators.items():
        predicted[name] = generator_ab(generator, batch["L"], precision)
    return predicted


def generator_ab(generator, L, precision="fp32"):
    """A generator's ab for a batch of L, predicted at the size it was trained at and laid onto L."""
    return predict_ab(generator, L, precision, len(L), getattr(generator, "training_size", None))


def evaluate_calibrated(generators, paths, size, batch_size=16, precision="fp32", folds=FOLDS):
    """Score each generator with its a*b* scaled towards grey by a chroma scale fitted out of sample.

    Each image is scored with the scale that gives the lowest mean CIEDE2000 on the images of
    the other folds (:func:`colorlib.calibration.cross_fitted_scales`), never on itself. Scales
    apply to the colours as the network predicts them, whatever ``chroma_scale`` a generator
    carries. Two passes over the images: one for the errors at every scale, one for the scores.

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
    with as_predicted(generators):
        return _calibrated_scores(generators, paths, size, batch_size, precision, fold_count(folds, len(paths)))


def _calibrated_scores(generators, paths, size, batch_size, precision, folds):
    errors = defaultdict(list)
    for batch in _batches(paths, size, batch_size):
        for name, generator in generators.items():
            errors[name].append(chroma_errors(batch["L"], generator_ab(generator, batch["L"], precision), batch["ab"]))
    errors = {name: np.concatenate(parts, axis=1) for name, parts in errors.items()}
    per_image = {name: cross_fitted_scales(values, folds=folds) for name, values in errors.items()}
    batch_scores, start = defaultdict(list), 0
    for batch in _batches(paths, size, batch_size):
        end = start + len(batch["L"])
        for name, generator in generators.items():
            scales = torch.as_tensor(per_image[name][start:end], dtype=torch.float32).view(-1, 1, 1, 1)
            fake_ab = scales * generator_ab(generator, batch["L"], precision)
            batch_scores[name + CALIBRATED].append(score_images(batch["L"], fake_ab, batch["ab"]))
        start = end
    calibration = {"scales": list(CHROMA_SCALES), "folds": folds,
                   "mean_ciede2000": {name: values.mean(axis=1).tolist() for name, values in errors.items()},
                   "chosen": {name: best_scale(values) for name, values in errors.items()}}
    return _joined(batch_scores), calibration


def run_generators(run_dir, device="cpu"):
    """{"pretrained", "gan": generator} for the checkpoints a run folder holds, in that order."""
    return {name: load_generator(Path(run_dir) / file, device)[0]
            for name, file in RUN_CHECKPOINTS.items() if (Path(run_dir) / file).is_file()}


COLOUR_SHARE = 0.5  # a shipped colorizer keeps at least this share of the photos' own colourfulness


def shipped_row(metrics, share=COLOUR_SHARE):
    """The generator row to colorize new photos with: the most colourful that is honest about it.

    A row qualifies when it beats grey on AuC (its 95% paired interval above zero), does not
    lose to grey on CIEDE2000 (its interval not above zero) and keeps at least ``share`` of the
    photos' own mean colourfulness. Colourfulness is the tie-breaker because CIEDE2000 and L1
    reward greyness: painting fainter lowers both, and a rule that minimised them would ship a
    nearly grey colorizer. Without a qualifying row, the most colourful row that does not lose
    to grey on AuC; then the plain pretrained row.

    Parameters
    ----------
    metrics : dict
        What ``metrics.json`` holds (:func:`write_evaluation`).
    share : float

    Returns
    -------
    (str, bool) or None
        The row's name in ``metrics["summary"]`` and whether it meets the rule; None when no
        generator was scored.
    """
    summary = metrics["summary"]
    rows = [name for name in summary if name.removesuffix(CALIBRATED) in RUN_CHECKPOINTS
            and not (name.endswith(CALIBRATED) and chosen_scale(metrics, name) <= 0)]
    if not rows:
        return None
    truth = photos_colourfulness(summary)

    def verdicts(name):
        auc, ciede = summary[name]["auc"], summary[name]["ciede2000"]
        return auc["difference_low"] > 0, ciede["difference_low"] <= 0, auc["difference_high"] >= 0

    def colour(name):
        return summary[name]["colourfulness"]["mean"]

    qualified = [n for n in rows if verdicts(n)[0] and verdicts(n)[1] and colour(n) >= share * truth]
    if qualified:
        return max(qualified, key=colour), True
    fair = [n for n in rows if verdicts(n)[2]]
    return (max(fair, key=colour) if fair else rows[0]), False


def photos_colourfulness(summary):
    """The validation photos' own mean colourfulness, from any row: prediction minus its gap."""
    row = summary[BASELINE]
    return row["colourfulness"]["mean"] - row["colourfulness_gap"]["mean"]


def chosen_scale(metrics, row):
    """The chroma scale a row paints with: 1 for a plain row, the calibrated scale fitted on all images else."""
    if not row.endswith(CALIBRATED):
        return 1.0
    return float(((metrics.get("calibration") or {}).get("chosen") or {}).get(row.removesuffix(CALIBRATED), 0.0))


def shipped_generator(run_dir):
    """The run's shipped generator (:func:`shipped_row`) as (name, chroma scale), or None before notebook 05."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return None
    metrics = load_json(path)
    row = metrics.get("shipped") or (shipped_row(metrics) or [None])[0]
    if row is None:
        return None
    return row.removesuffix(CALIBRATED), chosen_scale(metrics, row)


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
    train_ab_mean = dataset_ab_mean(split.train, config.photo_size, batch_size)
    scores = evaluate_generators(generators, split.val, config.photo_size, batch_size, "fp32", train_ab_mean)
    calibration = add_calibrated(scores, generators, split.val, config.photo_size, batch_size, log)
    weights = load_checkpoint(Path(run_dir) / PRETRAINED_FILE, mmap=True).get("weights") if generators else None
    info = {"profile": config.profile, "source": split.source, "size": config.photo_size, "weights": weights,
            "train_ab_mean": train_ab_mean, "calibration": calibration}
    return write_evaluation(run_dir, scores, relative_names(split.val), info, ship=True), scores


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
    batch = next(iter(_batches(paths, size, len(paths))))
    return {**batch, **predictions(batch, generators, "fp32", train_ab_mean)}


def write_evaluation(out_dir, scores, names, info=None, ship=False):
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
        Name the row a run ships (:func:`shipped_row`) under ``"shipped"``, and whether it
        meets the rule under ``"shipped_meets_rule"``.

    Returns
    -------
    dict
        What ``metrics.json`` holds: ``info``'s entries, ``n_images``, ``baseline``,
        ``higher_is_better`` and ``summary`` (:func:`colorlib.metrics.summarize_with_ci`).
    """
    out_dir = Path(out_dir)
    metrics = {
        **(info or {}),
        "n_images": len(names),
        "baseline": BASELINE,
        "higher_is_better": {metric: HIGHER_IS_BETTER.get(metric) for metric in scores[BASELINE]},
        "summary": summarize_with_ci(scores, BASELINE),
    }
    if ship and shipped_row(metrics):
        metrics["shipped"], metrics["shipped_meets_rule"] = shipped_row(metrics)
        metrics["shipped_chroma_scale"] = chosen_scale(metrics, metrics["shipped"])
    save_json(out_dir / METRICS_FILE, metrics)
    metric_names = list(scores[BASELINE])
    with open(out_dir / PER_IMAGE_FILE, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "model", *metric_names])
        for i, name in enumerate(names):
            for model, values in scores.items():
                writer.writerow([name, model, *(float(values[metric][i]) for metric in metric_names)])
    return metrics


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
        What was written to ``metrics.json`` (see :func:`write_evaluation`).
    """
    generator, state = load_generator(checkpoint, pick_device(device))
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
    if generator.chroma_scale != 1.0:
        log(f"note: this export paints its colours scaled by {generator.chroma_scale:g}, a scale fitted on its "
            f"run's validation photos; the {name} row scores it as it is, the {name}{CALIBRATED} row from "
            "the colours as predicted")
    scores = evaluate_generators({name: generator}, paths, size, batch_size, "fp32", train_ab_mean)
    calibration = add_calibrated(scores, {name: generator}, paths, size, batch_size, log)
    info = {"checkpoint": Path(checkpoint).name, "stage": state.get("stage"), "weights": state.get("weights"),
            "data": "validation split" if data is None else str(data), "size": size,
            "training_images_scored": seen_in_training, "train_ab_mean": train_ab_mean, "calibration": calibration}
    metrics = write_evaluation(out_dir, scores, relative_names(paths), info)
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


def show_validation_examples(indices, split, config, generators, scores, model, train_ab_mean=None):
    """Chosen validation images: a model's colorization above the truth, titled with its scores.

    Parameters
    ----------
    indices : sequence of int
        Positions in ``split.val`` (e.g. from :func:`colorlib.metrics.extremes`).
    split, config
        The run's split and config (images are read at ``config.photo_size``).
    generators : dict
        As :func:`run_generators` returns them.
    scores : dict
        {model: {metric: per-image ndarray}} over ``split.val``.
    model : str
        Which prediction to show: a generator's name, "grey" or "mean_ab".
    train_ab_mean : sequence of 2 floats, optional
        Needed to show "mean_ab".
    """
    indices = [int(i) for i in indices]
    chosen = {metric: values[indices] for metric, values in scores[model].items()}
    if not indices:
        return show_ranked(None, None, None, [], chosen)
    wanted = {name: generator for name, generator in generators.items() if name == model}
    batch = examples([split.val[i] for i in indices], wanted, config.photo_size, train_ab_mean)
    return show_ranked(batch["L"], batch[model], batch["ab"], range(len(indices)), chosen)


def show_run_comparison(split, config, run_dir, n=6):
    """The run's first n validation photos: Gray / pretrained / GAN / shipped / Real, as far as the run has them.

    The photos are the first of the split, not chosen for the figure. The shipped row
    (:func:`shipped_row`) appears once notebook 05 has evaluated the run.
    """
    generators = run_generators(run_dir)
    batch = next(iter(_batches(split.val[:n], config.photo_size, n)))
    labels = {"pretrained": "pretrained, " + ("L1" if config.head == "regression" else "classification"),
              "gan": "GAN"}
    predictions = {labels[name]: generator_ab(generator, batch["L"]) for name, generator in generators.items()}
    shipped = shipped_generator(run_dir)
    if shipped and shipped[0] in generators:
        name, scale = shipped
        label = f"shipped: {name}" + (f" x {scale:g}" if scale != 1.0 else "")
        predictions[label] = scale * generator_ab(generators[name], batch["L"])
    return show_comparison(batch["L"], predictions, batch["ab"], n=n)


def describe_shipped(metrics, share=COLOUR_SHARE):
    """One Markdown paragraph: which row the run ships, by what rule, and how its colour compares with the photos'."""
    row = metrics.get("shipped")
    if row is None:
        return "No generator was scored, so none is shipped."
    summary = metrics["summary"][row]
    truth = photos_colourfulness(metrics["summary"])
    colour = summary["colourfulness"]["mean"]
    rule = (f"the most colourful generator row that beats grey on AuC, does not lose to it on CIEDE2000 "
            f"(95% paired intervals) and keeps at least {share:.0%} of the photos' colourfulness")
    verdict = "meets that rule" if metrics.get("shipped_meets_rule") else (
        "is the most colourful row that does not lose to grey on AuC: **no row meets the rule in this run**")
    return (f"The run ships **{row}**, chosen as {rule}. It {verdict}. Its colourfulness is {colour:.1f}, "
            f"{colour / truth:.0%} of the validation photos' own ({truth:.1f}); its CIEDE2000 is "
            f"{summary['ciede2000']['mean']:.2f} against grey's "
            f"{metrics['summary'][BASELINE]['ciede2000']['mean']:.2f} "
            f"({summary['ciede2000']['difference']:+.2f} [{summary['ciede2000']['difference_low']:+.2f}, "
            f"{summary['ciede2000']['difference_high']:+.2f}]) and its AuC {summary['auc']['mean']:.3f} against "
            f"{metrics['summary'][BASELINE]['auc']['mean']:.3f} ({summary['auc']['difference']:+.3f} "
            f"[{summary['auc']['difference_low']:+.3f}, {summary['auc']['difference_high']:+.3f}]).")


def takeaways(metrics, scores, share=COLOUR_SHARE):
    """Three Markdown bullets from a run's numbers: what ships and why, how it compares with grey, its colour.

    Parameters
    ----------
    metrics : dict
        What ``metrics.json`` holds (:func:`write_evaluation`).
    scores : dict
        {model: {metric: per-image ndarray}}, the scores it summarises.
    share : float
        The shipping rule's share of the photos' colourfulness.

    Returns
    -------
    str
        Markdown.
    """
    row = metrics.get("shipped")
    if row is None:
        return "- No generator was scored, so none is shipped."
    summary, grey = metrics["summary"][row], metrics["summary"][BASELINE]
    rates = win_rates({BASELINE: scores[BASELINE], row: scores[row]})[row]
    truth, colour = photos_colourfulness(metrics["summary"]), summary["colourfulness"]["mean"]
    meets = ("it is the most colourful row that beats grey on AuC, does not lose to it on CIEDE2000 and keeps "
             f"at least {share:.0%} of the photos' colourfulness" if metrics.get("shipped_meets_rule") else
             "**no row meets the shipping rule**; it is the most colourful that does not lose to grey on AuC")
    ciede, auc = summary["ciede2000"], summary["auc"]
    return "\n".join([
        f"- **{row}** ships: {meets}.",
        f"- Against grey (no colour at all), its CIEDE2000 is {ciede['mean']:.2f} against "
        f"{grey['ciede2000']['mean']:.2f}, "
        f"{ciede['difference']:+.2f} [{ciede['difference_low']:+.2f}, {ciede['difference_high']:+.2f}] "
        f"({ciede2000_jnd(ciede['difference'])}; {_verdict_words(ciede)}), lower on {rates['ciede2000']:.0%} of the "
        f"photos; its AuC is {auc['mean']:.3f} against {grey['auc']['mean']:.3f}, {auc['difference']:+.3f} "
        f"[{auc['difference_low']:+.3f}, {auc['difference_high']:+.3f}] ({_verdict_words(auc)}), higher on "
        f"{rates['auc']:.0%} of them.",
        f"- Its colourfulness is {colour:.1f} ({colourfulness_word(colour)}), {colour / truth:.0%} of the validation "
        f"photos' own {truth:.1f} ({colourfulness_word(truth)}).",
    ])


def _verdict_words(row):
    if row["beats_baseline"]:
        return "better than grey: the 95% paired interval excludes zero"
    if row["difference_low"] <= 0 <= row["difference_high"]:
        return "not told apart from grey: the 95% paired interval holds zero"
    return "worse than grey: the 95% paired interval excludes zero"


def gan_objective_markdown(config):
    """The pix2pix objective as Markdown LaTeX, with the run's lambda and reconstruction term.

    The reconstruction term is ``config.gan_reconstruction``: "l1" (the capstone's) or
    "cross_entropy" (a classification head's own loss over the a*b* bins), each with its weight.

    Parameters
    ----------
    config : Config

    Returns
    -------
    str
        Markdown with two display equations and a sentence naming the terms.
    """
    reconstruction = config.gan_reconstruction
    weight = config.lambda_l1
    if reconstruction == "cross_entropy":
        weight = config.lambda_cross_entropy
        term = r"\mathrm{CE}\big(q(G(x)),\, q^*(y)\big)"
        words = "the cross-entropy between the generator's scores over the a\\*b\\* bins and the true bins"
    else:
        term = r"\lVert y - G(x) \rVert_1"
        words = "the L1 distance between the generated and the true a\\*b\\*"
    gan = "binary cross-entropy on logits" if config.gan_mode == "vanilla" else "mean squared error"
    return "\n".join([
        "With $x$ the L\\* channel, $y$ the true a\\*b\\*, $G$ the generator and $D$ the discriminator "
        f"(its verdicts compared with 1 for real and 0 for fake by {gan}, `gan_mode = \"{config.gan_mode}\"`):",
        "",
        r"$$\mathcal{L}_D = \tfrac{1}{2}\Big(\ell\big(D(x, y), 1\big) + \ell\big(D(x, G(x)), 0\big)\Big)$$",
        "",
        rf"$$\mathcal{{L}}_G = \ell\big(D(x, G(x)), 1\big) + \lambda\, {term}, \qquad \lambda = {weight:g}$$",
        "",
        f"The reconstruction term is {words} (`gan_reconstruction = \"{reconstruction}\"`). Both networks use "
        f"Adam at a learning rate of {config.gan_lr:g} with betas ({config.beta1:g}, {config.beta2:g}).",
    ])


def reconstruction_key(history):
    """The generator's reconstruction-loss key in a GAN history ("G_L1", "G_cross_entropy"), or None."""
    keys = [key for key in (history[-1] if history else {}) if key.startswith("G_") and key != "G_GAN"]
    return keys[0] if keys else None


def receptive_field(module):
    """The receptive field, in input pixels, of one output of a chain of convolutions.

    Every ``Conv2d`` in ``module.modules()`` order counts (square kernels and strides); other
    layers do not change the receptive field.

    Parameters
    ----------
    module : nn.Module

    Returns
    -------
    int
    """
    field, jump = 1, 1
    for layer in module.modules():
        if isinstance(layer, torch.nn.Conv2d):
            field += (layer.kernel_size[0] - 1) * jump
            jump *= layer.stride[0]
    return field


def describe_receptive_field(discriminator, size):
    """One sentence: the PatchGAN's receptive field against the training crop, computed."""
    field = receptive_field(discriminator)
    grid = discriminator(torch.zeros(1, 3, size, size)).shape[-1]
    if field >= size:
        meaning = (f"larger than the {size} x {size} training crops themselves: each verdict's patch is as wide "
                   "as the crop or wider, reaching into the padding beyond its edges, so here the verdicts overlap "
                   "heavily and judge large parts of the image rather than local texture")
    else:
        meaning = (f"{field / size:.0%} of the side of a {size} x {size} training crop: each verdict judges "
                   "a local patch, so the discriminator looks at texture and local colour")
    return (f"Each of the {grid} x {grid} verdicts sees a {field} x {field} px patch of its input, "
            f"{meaning}.")


def grey_ssim(batch):
    """The capstone's mean SSIM of the grey prediction (a*b* = 0) on a {"L", "ab"} batch."""
    return float(score_images(batch["L"], grey_ab(batch["ab"]), batch["ab"])["ssim"].mean())


def describe_val_ssim(history, grey, n_photos, capstone_ssim=0.87):
    """One sentence: the GAN's last validation SSIM beside the capstone's and grey's on the same photos."""
    if not history or "val_ssim" not in history[-1]:
        return "The history holds no validation SSIM."
    ssim = history[-1]["val_ssim"]
    return (f"After epoch {history[-1]['epoch']} the GAN's generator scores a capstone SSIM of {ssim:.3f} on "
            f"{n_photos} validation photos, against the capstone's published {capstone_ssim}. Predicting no "
            f"colour at all scores {grey:.3f} on the same photos: SSIM says little about colour "
            "(notebook 05 measures it).")


def describe_gan_budget(config, split, capstone_epochs=(30, 70)):
    """One sentence: how many epochs and photos the GAN trains on, from the config and the split."""
    photos = min(config.gan_photos, len(split.train)) if config.gan_photos else len(split.train)
    return (f"This run trains the GAN for **{config.gan_epochs} epoch{'s' if config.gan_epochs != 1 else ''}** "
            f"on **{photos:,} photos** at {config.size} px, after {config.pretrain_epochs} pretraining "
            f"epoch{'s' if config.pretrain_epochs != 1 else ''}; the capstone trained {capstone_epochs[0]} + "
            f"{capstone_epochs[1]} epochs at 256 px.")


def describe_gan_balance(history):
    """Sentences on the last epoch's losses: does D beat chance (log 2), how much of G is reconstruction."""
    if not history:
        return "The history is empty."
    last, chance = history[-1], float(np.log(2))
    key = reconstruction_key(history)
    d = last["D"]
    judge = ("tells real from generated better than chance" if d < chance else
             "does no better than chance")
    lines = [f"In epoch {last['epoch']} the discriminator's loss is {d:.3f} against the {chance:.3f} (log 2) "
             f"of a discriminator that cannot tell: it {judge}."]
    if key and "G_GAN" in last:
        lines.append(f"The generator's GAN term is {last['G_GAN']:.3f} and its reconstruction term ({key}, "
                     f"already times lambda) {last[key]:.3f}: reconstruction is "
                     f"{last[key] / (last[key] + last['G_GAN']):.0%} of the generator's loss.")
    return " ".join(lines)


def colorize_variants(rgb, generator, size=None):
    """A photo's contrast variants (notebook 02), each as the generator sees it and as it colours it.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), float in [0, 1]
    generator : nn.Module
        From :func:`colorlib.colorizer.load_colorizer`.
    size : int, optional
        As in :func:`colorlib.colorizer.colorize`.

    Returns
    -------
    variants, colorized : dict of ndarray
        {name: RGB float image}: each variant grey, with exactly the L* of
        :func:`colorlib.preprocessing.lightness_variants` (the generator's whole input), and its colorization.
    """
    from colorlib.colorizer import colorize  # colorizer imports this module
    from colorlib.preprocessing import grey_with_lightness, lightness_variants

    variants = {name: grey_with_lightness(L) for name, L in lightness_variants(rgb).items()}
    return variants, {name: np.asarray(colorize(image, generator, size)) / 255.0 for name, image in variants.items()}


def variants_markdown(variants, colorized, photo=None):
    """A Markdown table: per variant, its L* spread and the colourfulness of its colorization.

    With ``photo`` (RGB float), a last row gives the photo's own colourfulness to compare with.
    """
    lines = ["| variant | mean L\\* | L\\* standard deviation | colourfulness of the colorization | in words |",
             "| --- | --- | --- | --- | --- |"]
    for name, image in variants.items():
        L, colour = lightness(image), float(colourfulness(colorized[name]))
        lines.append(f"| {name} | {L.mean():.1f} | {L.std():.1f} | {colour:.1f} | {colourfulness_word(colour)} |")
    if photo is not None:
        own = float(colourfulness(photo))
        lines.append(f"| the photo's own colours | | | {own:.1f} | {colourfulness_word(own)} |")
    return "\n".join(lines)


def describe_variants(variants, colorized):
    """One sentence, computed: which preprocessing gives the most and the least colourful colorization."""
    colour = {name: float(colourfulness(image)) for name, image in colorized.items()}
    most, least = max(colour, key=colour.get), min(colour, key=colour.get)
    flat, original = colour.get("low contrast"), colour.get("original")
    sentence = (f"The most colourful colorization comes from the {most} L\\* ({colour[most]:.1f}), the least "
                f"colourful from the {least} L\\* ({colour[least]:.1f}).")
    if flat is not None and original is not None:
        sentence += (f" Flattening the contrast moves the colorization's colourfulness from {original:.1f} to "
                     f"{flat:.1f}: the generator reads colour from the lightness it is given.")
    return sentence
