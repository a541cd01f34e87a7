"""The lever study and the budget curve: what makes colour appear, and what more training buys.

A lever is a set of config changes to the run's own recipe. Each is trained from scratch in a
folder of its own, on the run's training photos (or a share of them), for the same number of
training images seen, then scored beside grey on the run's validation photos (notebook 07).
A short budget ranks many levers cheaply but can rank them wrongly: the top lever, the loss,
is also trained for the recipe's whole budget (every photo, every epoch) and set beside the
run's own pretrained generator with paired intervals. The budget curve is the recipe itself
trained for several budgets, the largest the run's own pretrained generator, scored the same way.
"""
import dataclasses
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt

from colorlib.checkpoints import GAN_FILE, PRETRAIN_HISTORY_FILE, PRETRAINED_FILE, load_generator, load_json, save_json
from colorlib.evaluation import evaluate_generators
from colorlib.metrics import summarize_with_ci
from colorlib.models import GeneratorSpec, build_generator
from colorlib.plots import show_comparison
from colorlib.predict import predict_ab
from colorlib.runtime import seed_everything
from colorlib.shipping import photos_colourfulness
from colorlib.splits import training_subset, validation_batch
from colorlib.tables import PAIRED_SCORES
from colorlib.stages import new_generator, pretrain, train_gan, training_seconds

STUDY_FILE = "study.json"
BUDGET_FIGURE = "budget_curve.png"  # notebook 07 saves the curve in the run folder; the report shows it
RECIPE_ROW = "the run's recipe"
BUDGET_FACTORS = (0.5, 1)  # the budget curve's points trained from scratch, in units of the levers' budget


@dataclasses.dataclass
class Lever:
    """One row of the study: what changes from the run's recipe, on how many photos, whether a GAN follows."""

    name: str
    changes: dict
    photo_share: float = 1.0  # share of the run's training photos
    gan: bool = False
    full_budget: bool = False  # trained as long as the run's own pretraining, not for the levers' budget


def recipe_changes(config):
    """The fields that make the run's recipe, as a lever's changes (the recipe itself: none change)."""
    return {key: getattr(config, key) for key in ("encoder", "head", "decoder", "size", "output_stride", "loss_stride",
                                                  "rebalance", "encoder_lr_scale", "freeze_encoder_bn", "temperature")}


def default_levers(config):
    """The study's rows: the run's recipe, and the recipe with one thing changed.

    - the loss: L1 regression, the capstone's, instead of the classification over colour bins
      (or the other way round);
    - the decoder: fastai's DynamicUnet stopped at the same quarter of the side, in place of the
      lean head (when the recipe uses the lean head);
    - the rebalancing: the paper's half-and-half mix (or none, when the recipe uses the paper's).
    The GAN is not a row: notebooks 04 and 05 measure it at the run's full budget.
    """
    own = recipe_changes(config)
    levers = [Lever(RECIPE_ROW, own), Lever(*other_loss(config))]
    if config.decoder == "lean":
        levers.append(Lever("the recipe with fastai's U-Net decoder (stopped at a quarter)", {**own, "decoder": "unet"}))
    if config.head == "classification":
        other = 0.5 if config.rebalance != 0.5 else 1.0
        levers.append(Lever(f"the recipe with rebalance {other:g} (" + ("the paper's)" if other == 0.5 else "none)"),
                            {**own, "rebalance": other}))
    return levers


def other_loss(config):
    """The recipe with the other loss: L1 regression (the capstone's) for a classifier, or the classification."""
    if config.head == "classification":
        return "the recipe with L1 regression (the capstone's loss)", {**recipe_changes(config), "head": "regression"}
    return "the recipe with the classification loss", {**recipe_changes(config), "head": "classification"}


def full_budget_levers(config):
    """The levers trained for the run's whole pretraining budget: the other loss, the course's main change.

    At the levers' short budget L1 regression can look better than the classification it is
    replaced by; only the budget the recipe is really trained for says which loss it should use.
    ``config.study_full_budget`` False trains none (the study then costs minutes, not a second
    pretraining).
    """
    if not config.study_full_budget:
        return []
    name, changes = other_loss(config)
    return [Lever(f"{name}, full budget", changes, full_budget=True)]


def lever_config(config, lever, images, n_train):
    """A lever's config and photo count: ``images`` training images seen, on its share of the photos.

    A lever on the whole photos sees up to ``images`` distinct photos once; one on a share of
    them sees fewer photos, as many times as it takes to see as many images.
    """
    photos = max(config.batch_size, round(min(n_train, images) * lever.photo_share))
    epochs = max(1, math.ceil(images / photos))
    changes = dict(lever.changes)
    if changes.get("head", config.head) != "classification":
        changes.setdefault("gan_reconstruction", "l1")  # a regression head has no cross-entropy to keep
    # One validation check an epoch: a lever's curve is not shown, and checks of 195 photos add up.
    return config.replace(**changes, pretrain_epochs=epochs, gan_epochs=1 if lever.gan else 0, checks_per_epoch=1,
                          resume=True, progress=False, display_every=0), photos


def run_lever(config, split, lever, images, folder, log=print):
    """Train one lever from scratch in its folder; returns ((generator, its spec), record of what it cost).

    A lever already trained there (its checkpoints complete and of the same config) is resumed,
    so running the study again only trains what is missing; its pretraining time then comes
    from the epochs its history recorded, not from the seconds the resumed call took.
    """
    lever_cfg, photos = lever_config(config, lever, images, len(split.train))
    lever_split = training_subset(split, photos, config.seed)
    start = time.perf_counter()
    generator, weights = new_generator(lever_cfg, verbose=False)
    history = pretrain(generator, lever_split, lever_cfg, folder, weights, log=lambda line: None)
    if lever.gan:
        generator, _ = train_gan(lever_split, lever_cfg, folder, log=lambda line: None)
    else:
        generator = load_generator(Path(folder) / PRETRAINED_FILE)[0]
    recorded = None if lever.gan else training_seconds(history)  # a GAN history records no epoch times
    seconds = recorded if recorded is not None else time.perf_counter() - start
    record = {"lever": lever.name, "changes": lever.changes, "photos": photos,
              "epochs": lever_cfg.pretrain_epochs, "gan_epochs": lever_cfg.gan_epochs,
              "images_seen": photos * lever_cfg.pretrain_epochs, "train_seconds": seconds}
    log(f"{lever.name}: {photos} photos x {lever_cfg.pretrain_epochs} epochs"
        + (" + 1 GAN epoch" if lever.gan else "") + f" ({seconds / 60:.1f} min)")
    return (generator, GeneratorSpec.of_config(lever_cfg)), record


def budget_points(config, n_train, images):
    """The budget curve's budgets in training images: ``images`` x :data:`BUDGET_FACTORS`, below the run's own.

    A budget is what its lever sees (:func:`lever_config`, whole epochs of whole batches); one
    that would see as many images as the run's own pretraining, the curve's last point, is left out.
    """
    own, points = n_train * config.pretrain_epochs, []
    for factor in BUDGET_FACTORS:
        _, photos = lever_config(config, Lever("", {}), max(1, round(images * factor)), n_train)
        seen = photos * math.ceil(round(images * factor) / photos)
        if seen < own and seen not in points:
            points.append(seen)
    return points


def run_study(config, split, run_dir, images, levers=None, log=print):
    """Train and score the levers and the budget curve; write ``study.json`` in the run folder.

    Parameters
    ----------
    config : Config
        The run's config: each lever changes some of its fields.
    split : Split
        The run's photos; every lever is scored on all of its validation photos.
    run_dir : path-like
        Each lever trains in ``<run_dir>/study/<n>``; the curve's last point is the run's own
        pretrained generator (notebook 03), read from the run folder.
    images : int
        The levers' budget, in training images seen (:func:`lever_config`); the curve's points
        trained from scratch are :func:`budget_points`.
    levers : list of Lever, optional
        :func:`default_levers` and :func:`full_budget_levers` when None.

    Returns
    -------
    (dict, dict)
        What ``study.json`` holds (``levers``, ``budget`` and, with full-budget levers,
        ``full_budget``: one record per row, the recipe's own first; ``summary``: every row's
        scores beside grey's; ``full_budget_versus_recipe``: the full-budget rows beside the
        recipe's, paired) and every row's per-photo scores.
    """
    levers = default_levers(config) + full_budget_levers(config) if levers is None else levers
    trained, generators = {}, {}

    def train(lever, budget):  # a lever and a budget trained once, whichever list names them
        key = (repr(sorted(lever.changes.items())), lever.photo_share, lever.gan, budget)
        if key not in trained:
            folder = Path(run_dir) / "study" / str(len(trained))
            pair, record = run_lever(config, split, lever, budget, folder, log)
            trained[key] = pair, {**record, "folder": folder.relative_to(run_dir).as_posix()}
        return trained[key]

    records, full = [], []
    for lever in levers:
        budget = len(split.train) * config.pretrain_epochs if lever.full_budget else images
        generators[lever.name], record = train(lever, budget)
        (full if lever.full_budget else records).append(record)
    curve, own = [], Lever(RECIPE_ROW, recipe_changes(config))
    for budget in budget_points(config, len(split.train), images):
        pair, record = train(own, budget)
        name = budget_name(record["images_seen"])
        generators[name] = pair
        curve.append({**record, "lever": name})
    curve.append(own_point(config, split, run_dir, generators))
    scores = evaluate_generators(generators, split.val, config.photo_size)
    summary = summarize_with_ci(scores)
    study = {"images": images, "n_val": len(split.val), "size": config.photo_size,
             "photos_colourfulness": photos_colourfulness(summary), "levers": records, "budget": curve,
             "summary": summary}
    if full:
        recipe = curve[-1]["lever"]
        study["full_budget"] = [curve[-1], *full]
        study["full_budget_versus_recipe"] = summarize_with_ci(
            {name: scores[name] for name in [recipe] + [record["lever"] for record in full]}, baseline=recipe)
    save_json(Path(run_dir) / STUDY_FILE, study)
    return study, scores


def budget_name(images, own=False):
    return f"the recipe, {images:,} images" + (" (notebook 03's generator)" if own else "")


def own_point(config, split, run_dir, generators):
    """The curve's last point: the run's own pretrained generator, its budget and time from its history."""
    generator, spec, _ = load_generator(Path(run_dir) / PRETRAINED_FILE)
    history = load_json(Path(run_dir) / PRETRAIN_HISTORY_FILE)
    images = len(split.train) * len(history)
    name = budget_name(images, own=True)
    generators[name] = generator, spec
    return {"lever": name, "changes": recipe_changes(config), "photos": len(split.train), "epochs": len(history),
            "gan_epochs": 0, "images_seen": images, "train_seconds": training_seconds(history) or 0.0, "folder": "."}


def load_study(run_dir):
    return load_json(Path(run_dir) / STUDY_FILE)


def study_table(study, part="levers", digits=2):
    """Part of the study as a Markdown table: per row its budget, its scores and its paired differences from grey.

    Parameters
    ----------
    study : dict
        What ``study.json`` holds.
    part : {"levers", "budget", "full_budget"}
        The levers at one budget, the recipe's budget curve, or the levers at the recipe's whole budget.
    """
    header = ("| {} | photos x epochs | train time | CIEDE2000 (lower), vs grey [95%] | AuC (higher), vs grey [95%] "
              "| colourfulness (photos: {:.1f}) |".format("budget" if part == "budget" else "lever",
                                                          study["photos_colourfulness"]))
    lines = [header, "| --- | --- | --- | --- | --- | --- |"]
    grey = study["summary"]["grey"]
    lines.append(f"| grey (no colour) | - | - | {grey['ciede2000']['mean']:.{digits}f} "
                 f"| {grey['auc']['mean']:.3f} | 0 |")
    for record in study.get(part, []):
        row = study["summary"][record["lever"]]
        budget = f"{record['photos']:,} x {record['epochs']}" + (" + 1 GAN" if record["gan_epochs"] else "")
        lines.append(f"| {record['lever']} | {budget} | {record['train_seconds'] / 60:.1f} min "
                     f"| {_versus(row['ciede2000'], digits)} | {_versus(row['auc'], 3)} "
                     f"| {row['colourfulness']['mean']:.1f} |")
    return "\n".join(lines)


def full_budget_markdown(study):
    """The full-budget levers against the recipe's own pretrained generator: paired intervals and a verdict per score.

    Returns
    -------
    str
        Markdown: a row per score and lever with both means, the lever minus the recipe, its 95%
        paired bootstrap interval and what it says; the minutes each trained.
    """
    if not study.get("full_budget"):
        return "This run's study trained no lever for the full budget (`study_full_budget` is off)."
    recipe, *others = study["full_budget"]
    versus = study["full_budget_versus_recipe"]
    lines = ["| score | lever | the recipe's | the lever's | lever minus the recipe [95% paired] | verdict |", "|" + " --- |" * 6]
    for record in others:
        for metric, label, digits in PAIRED_SCORES:
            if metric not in versus[record["lever"]]:
                continue
            row, base = versus[record["lever"]][metric], versus[recipe["lever"]][metric]
            lines.append(f"| {label} | {record['lever']} | {base['mean']:.{digits}f} | {row['mean']:.{digits}f} "
                         f"| {row['difference']:+.{digits}f} [{row['difference_low']:+.{digits}f}, "
                         f"{row['difference_high']:+.{digits}f}] | {lever_verdict(metric, row)} |")
    minutes = ", ".join([f"the recipe {recipe['train_seconds'] / 60:.1f}"]
                        + [f"{record['lever']} {record['train_seconds'] / 60:.1f}" for record in others])
    return ("\n".join(lines) + f"\n\nEach saw {recipe['images_seen']:,} training images "
            f"({recipe['photos']:,} photos x {recipe['epochs']} epochs); minutes of training: {minutes}.")


def describe_full_budget(study):
    """Computed sentences: what the full budget says of the other loss against the recipe, and whether the short budget said the same."""
    if not study.get("full_budget"):
        return ""
    recipe, *others = study["full_budget"]
    versus, lines = study["full_budget_versus_recipe"], []
    for record in others:
        rows = versus[record["lever"]]
        verdicts = "; ".join(f"{label.split(' (')[0]}: {lever_verdict(metric, rows[metric])}"
                             for metric, label, _ in PAIRED_SCORES if metric in rows)
        lines.append(f"- At the recipe's whole budget ({recipe['images_seen']:,} images), **{record['lever']}** "
                     f"against the recipe: {verdicts}.")
        short = next((lever for lever in study["levers"] if lever["changes"] == record["changes"]), None)
        if short is not None:
            own = study["summary"][RECIPE_ROW]["colourfulness"]["mean"]
            theirs = study["summary"][short["lever"]]["colourfulness"]["mean"]
            now = rows["colourfulness"]["difference"]
            turned = (theirs > own) != (now > 0)
            lines.append(f"- At the levers' budget ({study['images']:,} images) the same loss painted "
                         f"{theirs:.1f} against the recipe's {own:.1f}; at the whole budget {rows['colourfulness']['mean']:.1f} "
                         f"against {versus[recipe['lever']]['colourfulness']['mean']:.1f}: "
                         + ("the short budget ranked the two the other way round." if turned else
                            "the short budget ranked the two the same way."))
    return "\n".join(lines)


def lever_verdict(metric, row):
    """A lever-minus-recipe interval in words: a tie when it holds zero, else which of the two is closer."""
    if row["difference_low"] <= 0 <= row["difference_high"]:
        return "a tie: the interval holds zero"
    if row["beats_baseline"] is None:
        return "the lever paints more" if row["difference_low"] > 0 else "the lever paints less"
    return "the lever is better" if row["beats_baseline"] else "the recipe is better"


def _versus(row, digits):
    mark = "**" if row["beats_baseline"] else ""
    return (f"{row['mean']:.{digits}f}, {mark}{row['difference']:+.{digits}f} "
            f"[{row['difference_low']:+.{digits}f}, {row['difference_high']:+.{digits}f}]{mark}")


def plot_budget_curve(study):
    """The recipe's colour and its colour scores against grey, against its training minutes (log scale).

    Three panels: colourfulness as a share of the validation photos' own; CIEDE2000 and AuC
    as paired differences from grey with their 95% intervals (grey is the dashed zero line).
    """
    points = study["budget"]
    minutes = [record["train_seconds"] / 60 for record in points]
    rows = [study["summary"][record["lever"]] for record in points]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    share = [100 * row["colourfulness"]["mean"] / study["photos_colourfulness"] for row in rows]
    axes[0].plot(minutes, share, marker="o")
    axes[0].set_ylabel("colourfulness, % of the photos'")
    axes[0].set_ylim(0, max(100, max(share) + 5))
    for ax, metric, label in ((axes[1], "ciede2000", "CIEDE2000 minus grey's (lower is better)"),
                              (axes[2], "auc", "AuC minus grey's (higher is better)")):
        middle = [row[metric]["difference"] for row in rows]
        below = [m - row[metric]["difference_low"] for m, row in zip(middle, rows)]
        above = [row[metric]["difference_high"] - m for m, row in zip(middle, rows)]
        ax.errorbar(minutes, middle, yerr=[below, above], marker="o", capsize=3)
        ax.axhline(0, color="0.4", linestyle="--", label="grey (no colour)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(minutes, [(f"{m:.1f}" if m < 10 else f"{m:.0f}") + f"\n{record['images_seen']:,}"
                                for m, record in zip(minutes, points)])
        ax.minorticks_off()
        ax.set_xlabel("training minutes, and images seen (log scale)")
    fig.suptitle(f"The run's recipe at {len(points)} budgets, {points[0]['images_seen']:,} to "
                 f"{points[-1]['images_seen']:,} training images, on {study['n_val']} validation photos")
    fig.tight_layout()
    return fig


def describe_fresh_outputs(L, size, encoders=("resnet18", "efficientnet_lite0")):
    """How large a freshly built generator's a*b* are, for each encoder, with the last layer as fastai starts it.

    Parameters
    ----------
    L : Tensor, shape (N, 1, H, W)
        Normalised lightness of some photos.
    size : int
        The generator's training size (L is resized to it).
    """
    lines = []
    for encoder in encoders:
        seed_everything(0)
        generator, weights = build_generator(size, "auto", False, encoder, zero_head=False)
        ab = predict_ab(generator, L, spec=GeneratorSpec(size, encoder))
        lines.append(f"{encoder:<18} ({weights} weights): mean |a*b*| {float(ab.abs().mean()):.3f}")
    return "\n".join(lines)


def describe_study(study):
    """Computed sentences: what the levers' numbers favour, against the recipe, and what more budget bought."""
    rows = {record["lever"]: study["summary"][record["lever"]] for record in study["levers"]}
    colour = {name: row["colourfulness"]["mean"] for name, row in rows.items()}
    truth = study["photos_colourfulness"]
    most = max(colour, key=colour.get)
    lines = [f"- The most colourful lever is **{most}**: colourfulness {colour[most]:.1f}, "
             f"{colour[most] / truth:.0%} of the validation photos' own ({truth:.1f})."]
    favoured = {"CIEDE2000": min(rows, key=lambda name: rows[name]["ciede2000"]["mean"]),
                "AuC": max(rows, key=lambda name: rows[name]["auc"]["mean"])}
    against = [f"{metric} favours **{name}**" for metric, name in favoured.items() if name != RECIPE_ROW]
    lines.append("- Closest to the true colours at this budget: "
                 + ("the run's recipe, on both CIEDE2000 and AuC." if not against else
                    "; ".join(against) + ", not the run's recipe."))
    both = [name for name, row in rows.items() if row["ciede2000"]["beats_baseline"] and row["auc"]["beats_baseline"]]
    lines.append("- Beating grey on both CIEDE2000 and AuC (95% paired intervals): "
                 + ("; ".join(f"{name} (colourfulness {colour[name]:.1f})" for name in both) if both
                    else "no lever, at this budget") + ".")
    if most != RECIPE_ROW:
        line = (f"- At this budget the run's recipe paints less than **{most}** (colourfulness "
                f"{colour[RECIPE_ROW]:.1f} against {colour[most]:.1f})")
        if study.get("budget"):
            largest = study["summary"][study["budget"][-1]["lever"]]["colourfulness"]["mean"]
            line += f"; trained on every photo (the budget curve's largest point) it paints {largest:.1f}"
        lines.append(line + ".")
    minutes = sum(record["train_seconds"] for record in study["levers"]) / 60
    lines.append(f"- Every lever saw {study['images']:,} training images; the levers trained for {minutes:.1f} minutes.")
    if study.get("budget"):
        lines.append(describe_budget(study))
    return "\n".join(lines)


def describe_budget(study):
    """One sentence: what the recipe's largest budget bought over its smallest, on the three colour scores."""
    first, last = study["budget"][0], study["budget"][-1]
    a, b = study["summary"][first["lever"]], study["summary"][last["lever"]]
    truth = study["photos_colourfulness"]

    def versus(row, metric, digits):
        verdict = "beats grey" if row[metric]["beats_baseline"] else (
            "ties grey" if row[metric]["difference_low"] <= 0 <= row[metric]["difference_high"] else "loses to grey")
        return f"{row[metric]['difference']:+.{digits}f} ({verdict})"

    return (f"- The budget curve: {last['images_seen'] / first['images_seen']:.0f} times the training images "
            f"({first['train_seconds'] / 60:.1f} to {last['train_seconds'] / 60:.1f} minutes here) took colourfulness "
            f"from {a['colourfulness']['mean'] / truth:.0%} to {b['colourfulness']['mean'] / truth:.0%} of the photos', "
            f"CIEDE2000 against grey from {versus(a, 'ciede2000', 2)} to {versus(b, 'ciede2000', 2)} and AuC from "
            f"{versus(a, 'auc', 3)} to {versus(b, 'auc', 3)}.")


def show_levers(study, split, config, run_dir, n=6):
    """The first n validation photos: grey, through every lever of the study, and real."""
    batch = validation_batch(split, config, n)
    predictions = {}
    for index, record in enumerate(study["levers"]):
        folder = Path(run_dir) / record.get("folder", f"study/{index}")
        checkpoint = folder / (GAN_FILE if record["gan_epochs"] else PRETRAINED_FILE)
        generator, spec, _ = load_generator(checkpoint)
        predictions[record["lever"]] = predict_ab(generator, batch["L"], spec=spec)
    return show_comparison(batch["L"], predictions, batch["ab"], n=n)
