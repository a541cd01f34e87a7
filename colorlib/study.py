"""The lever study: which change makes colour appear, each measured for the same budget on the same photos.

A lever is a set of config changes to the run's own config. Each is trained from scratch in a
folder of its own, on the run's training photos (or a share of them), for the same number of
training images seen, then scored beside grey on the run's validation photos (notebook 07).
"""
import dataclasses
import math
import time
from pathlib import Path

from colorlib.checkpoints import GAN_FILE, PRETRAINED_FILE, load_generator, load_json, save_json
from colorlib.evaluation import evaluate_generators
from colorlib.metrics import summarize_with_ci
from colorlib.models import GeneratorSpec, build_generator
from colorlib.plots import show_comparison
from colorlib.predict import predict_ab
from colorlib.runtime import seed_everything
from colorlib.shipping import photos_colourfulness
from colorlib.splits import training_subset, validation_batch
from colorlib.stages import new_generator, pretrain, train_gan, training_seconds

STUDY_FILE = "study.json"
RECIPE = {"encoder": "efficientnet_lite0", "encoder_lr_scale": 0.1, "freeze_encoder_bn": True}

# Each lever changes one thing from the row above it, or from the capstone's recipe.
LEVERS = {
    "ResNet18 from random weights, L1 (the capstone's loss)": {"encoder": "resnet18", "head": "regression",
                                                         "encoder_lr_scale": 1.0, "freeze_encoder_bn": False},
    "EfficientNet-Lite0 ImageNet encoder, L1": {**RECIPE, "head": "regression"},
    "Lite0, classification": {**RECIPE, "head": "classification", "rebalance": 1.0},
    "Lite0, classification, rebalanced": {**RECIPE, "head": "classification", "rebalance": 0.5},
}


@dataclasses.dataclass
class Lever:
    """One row of the study: what changes, on how many photos, and whether a GAN follows."""

    name: str
    changes: dict
    photo_share: float = 1.0  # share of the run's training photos
    gan: bool = False


def default_levers(config):
    """The study's rows for a run: the encoder, the loss and the photos, one at a time.

    The last rows are the run's own recipe (``config``), on a seventh of the photos and on all
    of them. The GAN is not a row: notebooks 04 and 05 measure it at the run's full budget,
    which a lever's budget is too small to show.
    """
    levers = [Lever(name, changes) for name, changes in LEVERS.items()]
    own = {key: getattr(config, key) for key in ("encoder", "head", "rebalance", "encoder_lr_scale",
                                                 "freeze_encoder_bn", "temperature")}
    recipe = f"the run's recipe (rebalance {config.rebalance:g}, temperature {config.temperature:g})"
    levers.append(Lever(f"{recipe}, a seventh of the photos", own, photo_share=1 / 7))
    levers.append(Lever(recipe, own))
    return levers


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
    return config.replace(**changes, pretrain_epochs=epochs, gan_epochs=1 if lever.gan else 0,
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


def run_study(config, split, run_dir, images, levers=None, log=print):
    """Train and score every lever; write ``study.json`` in the run folder and return what it holds.

    Parameters
    ----------
    config : Config
        The run's config: each lever changes some of its fields.
    split : Split
        The run's photos; every lever is scored on all of its validation photos.
    run_dir : path-like
        Each lever trains in ``<run_dir>/study/<n>``.
    images : int
        The budget of every lever, in training images seen (:func:`lever_config`).
    levers : list of Lever, optional
        :func:`default_levers` when None.
    """
    levers = default_levers(config) if levers is None else levers
    records, generators = [], {}
    for index, lever in enumerate(levers):
        generators[lever.name], record = run_lever(config, split, lever, images,
                                                   Path(run_dir) / "study" / str(index), log)
        records.append(record)
    scores = evaluate_generators(generators, split.val, config.photo_size)
    summary = summarize_with_ci(scores)
    study = {"images": images, "n_val": len(split.val), "size": config.photo_size,
             "photos_colourfulness": photos_colourfulness(summary), "levers": records, "summary": summary}
    save_json(Path(run_dir) / STUDY_FILE, study)
    return study, scores


def load_study(run_dir):
    return load_json(Path(run_dir) / STUDY_FILE)


def study_table(study, digits=2):
    """The study as a Markdown table: per lever its budget, its scores and its paired differences from grey."""
    header = ("| lever | photos x epochs | train time | CIEDE2000 (lower), vs grey [95%] | AuC (higher), vs grey [95%] "
              "| colourfulness (photos: {:.1f}) |".format(study["photos_colourfulness"]))
    lines = [header, "| --- | --- | --- | --- | --- | --- |"]
    grey = study["summary"]["grey"]
    lines.append(f"| grey (no colour) | - | - | {grey['ciede2000']['mean']:.{digits}f} "
                 f"| {grey['auc']['mean']:.3f} | 0 |")
    for record in study["levers"]:
        row = study["summary"][record["lever"]]
        budget = f"{record['photos']:,} x {record['epochs']}" + (" + 1 GAN" if record["gan_epochs"] else "")
        lines.append(f"| {record['lever']} | {budget} | {record['train_seconds'] / 60:.1f} min "
                     f"| {_versus(row['ciede2000'], digits)} | {_versus(row['auc'], 3)} "
                     f"| {row['colourfulness']['mean']:.1f} |")
    return "\n".join(lines)


def _versus(row, digits):
    mark = "**" if row["beats_baseline"] else ""
    return (f"{row['mean']:.{digits}f}, {mark}{row['difference']:+.{digits}f} "
            f"[{row['difference_low']:+.{digits}f}, {row['difference_high']:+.{digits}f}]{mark}")


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
    """Three computed sentences: the most colourful lever, which beat grey where colour is measured, the budget."""
    rows = {record["lever"]: study["summary"][record["lever"]] for record in study["levers"]}
    colour = {name: row["colourfulness"]["mean"] for name, row in rows.items()}
    most = max(colour, key=colour.get)
    both = [name for name, row in rows.items()
            if row["ciede2000"]["beats_baseline"] and row["auc"]["beats_baseline"]]
    share = colour[most] / study["photos_colourfulness"]
    lines = [f"- The most colourful lever is **{most}**: colourfulness {colour[most]:.1f}, "
             f"{share:.0%} of the validation photos' own ({study['photos_colourfulness']:.1f})."]
    if both:
        lines.append("- Beating grey on both CIEDE2000 and AuC (95% paired intervals): "
                     + "; ".join(f"{name} (colourfulness {colour[name]:.1f})" for name in both) + ".")
    else:
        lines.append("- No lever beats grey on both CIEDE2000 and AuC at this budget.")
    minutes = sum(record["train_seconds"] for record in study["levers"]) / 60
    lines.append(f"- Every lever saw {study['images']:,} training images; the study trained for {minutes:.1f} minutes.")
    return "\n".join(lines)


def show_levers(study, split, config, run_dir, n=6):
    """The first n validation photos: grey, through every lever of the study, and real."""
    batch = validation_batch(split, config, n)
    predictions = {}
    for index, record in enumerate(study["levers"]):
        folder = Path(run_dir) / "study" / str(index)
        checkpoint = folder / (GAN_FILE if record["gan_epochs"] else PRETRAINED_FILE)
        generator, spec, _ = load_generator(checkpoint)
        predictions[record["lever"]] = predict_ab(generator, batch["L"], spec=spec)
    return show_comparison(batch["L"], predictions, batch["ab"], n=n)
