"""The course's stages as functions, each handing its products to the next through files.

A run folder holds everything a run makes: ``split.json`` (notebook 01), the pretrained
generator and its history (03), the GAN checkpoint and its history (04), metrics (05).
"""
import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from colorlib.config import Config
from colorlib.dataset import ColorizationDataset, make_loader
from colorlib.metrics import grey_ab, score_images, summarize
from colorlib.models import PatchDiscriminator, build_generator
from colorlib.plots import show_gray_fake_real
from colorlib.predict import predict_ab
from colorlib.runtime import pick_device, resolve_precision, seed_everything
from colorlib.sources import resolve_data, split_paths
from colorlib.train import (
    ColorizationGAN, L1Pretrainer, load_checkpoint, load_json, run_epochs, save_checkpoint,
    save_json,
)

SPLIT_FILE = "split.json"
PRETRAINED_FILE = "generator_pretrained.pt"
PRETRAIN_HISTORY_FILE = "pretrain_history.json"
GAN_FILE = "gan.pt"
GAN_HISTORY_FILE = "gan_history.json"
METRICS_FILE = "metrics.json"


@dataclasses.dataclass
class Split:
    """The run's training and validation images, and where they came from."""

    source: str
    reason: str
    train: list
    val: list


def run_folder(profile, run_dir=None):
    """The run folder: ``run_dir`` when given, else ``../runs/<profile>`` beside the notebooks."""
    return Path(run_dir) if run_dir else Path("..") / "runs" / profile


def make_split(config, run_dir):
    """Resolve the data source, split it and write ``split.json`` into the run folder."""
    source = resolve_data(config.data)
    train, val = split_paths(source.paths, config.n_images, config.val_fraction, config.seed)
    split = Split(source.name, source.reason, [str(p) for p in train], [str(p) for p in val])
    save_json(Path(run_dir) / SPLIT_FILE, dataclasses.asdict(split))
    return split


def load_split(run_dir):
    """Read the split written by notebook 01 (:func:`make_split`)."""
    path = Path(run_dir) / SPLIT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebook 01 (or `make all`) first")
    return Split(**load_json(path))


def datasets(split, config):
    """Training and validation ColorizationDatasets of a split."""
    return (ColorizationDataset(split.train, "train", config.size),
            ColorizationDataset(split.val, "val", config.size))


def validation_batch(split, config, n=None):
    """The first n validation images as one {"L", "ab"} batch (all of them when n is None)."""
    val = ColorizationDataset(split.val[:n] if n else split.val, "val", config.size)
    items = [val[i] for i in range(len(val))]
    return {key: torch.stack([item[key] for item in items]) for key in ("L", "ab")}


def runtime(config):
    """(device, precision) this config runs with."""
    device = pick_device(config.device)
    return device, resolve_precision(config.precision, device)


def prepare(module, config, device):
    """Move a network to the device, in channels_last layout when the config asks."""
    module = module.to(device)
    return module.to(memory_format=torch.channels_last) if config.channels_last else module


def new_generator(config, verbose=True):
    """A freshly initialised generator, seeded by the config; returns (generator, weights used)."""
    seed_everything(config.seed)
    return build_generator(config.size, config.imagenet_weights, verbose=verbose)


def pretrain(generator, split, config, run_dir, weights="random", log=print):
    """L1-pretrain a generator on the split's training images; save checkpoint and history."""
    seed_everything(config.seed)
    device, precision = runtime(config)
    generator = prepare(generator, config, device)
    loader = make_loader(datasets(split, config)[0], config.batch_size, config.seed, config.num_workers)
    trainer = L1Pretrainer(generator, lr=config.pretrain_lr, precision=precision)
    history = run_epochs(trainer, loader, config.pretrain_epochs, device, config.channels_last, log=log)
    save_checkpoint(Path(run_dir) / PRETRAINED_FILE, generator=generator.state_dict(),
                    config=config.asdict(), weights=weights, stage="pretrain")
    save_json(Path(run_dir) / PRETRAIN_HISTORY_FILE, history)
    return history


def load_generator(checkpoint, device="cpu"):
    """Rebuild a generator from a training checkpoint; returns (generator, checkpoint dict)."""
    state = load_checkpoint(checkpoint)
    config = Config(**state["config"])
    generator, _ = build_generator(config.size, imagenet_weights="never", verbose=False)
    generator.load_state_dict(state["generator"])
    return generator.to(device), state


def train_gan(split, config, run_dir, show=None, log=print):
    """Train the conditional GAN from the pretrained generator; save checkpoint and history.

    After every epoch the capstone's SSIM is measured on ``config.ssim_images`` validation
    images and added to the history. Every ``config.display_every`` steps (0: never) the
    Gray / Fake / Real figure of the current batch is passed to ``show`` (e.g. IPython's
    ``display``), as the capstone displayed it.
    """
    seed_everything(config.seed)
    device, precision = runtime(config)
    generator, pretrained = load_generator(Path(run_dir) / PRETRAINED_FILE, device)
    generator = prepare(generator, config, device)
    discriminator = prepare(PatchDiscriminator(), config, device)
    gan = ColorizationGAN(generator, discriminator, config.gan_lr, (config.beta1, config.beta2),
                          config.lambda_l1, config.gan_mode, precision)
    loader = make_loader(datasets(split, config)[0], config.batch_size, config.seed, config.num_workers)
    val = validation_batch(split, config, config.ssim_images)

    def validation_ssim(epoch):
        fake_ab = predict_ab(generator, val["L"], precision)
        return {"val_ssim": float(score_images(val["L"], fake_ab, val["ab"])["ssim"].mean())}

    def show_progress(step, L, ab):
        if show is not None and config.display_every and step % config.display_every == 0:
            figure = show_gray_fake_real(L, predict_ab(generator, L, precision), ab)
            show(figure)
            plt.close(figure)

    history = run_epochs(gan, loader, config.gan_epochs, device, config.channels_last,
                         on_epoch_end=validation_ssim, on_step=show_progress, log=log)
    save_checkpoint(Path(run_dir) / GAN_FILE, **gan.state_dict(), config=config.asdict(),
                    weights=pretrained["weights"], stage="gan")
    save_json(Path(run_dir) / GAN_HISTORY_FILE, history)
    return generator, history


def evaluate(split, config, run_dir, batch_size=16):
    """Score the grey baseline and every generator the run has, on all validation images.

    Returns
    -------
    scores : dict
        {model name: {metric: per-image ndarray}} for "grey", "pretrained" and "gan" (the
        last two when their checkpoints exist).
    batch : dict
        The validation {"L", "ab"} batch, and each model's predicted ab under its name.
    """
    device, precision = runtime(config)
    batch = validation_batch(split, config)
    predictions = {"grey": grey_ab(batch["ab"])}
    for name, file in (("pretrained", PRETRAINED_FILE), ("gan", GAN_FILE)):
        if (Path(run_dir) / file).is_file():
            generator, _ = load_generator(Path(run_dir) / file, device)
            predictions[name] = predict_ab(generator, batch["L"], precision, batch_size)
    scores = {name: score_images(batch["L"], ab, batch["ab"]) for name, ab in predictions.items()}
    return scores, {**batch, **predictions}


def save_metrics(run_dir, scores, config):
    """Write the mean of every metric per model, and the per-image scores, to ``metrics.json``."""
    metrics = {
        "profile": config.profile,
        "size": config.size,
        "n_images": len(next(iter(scores.values()))["ssim"]),
        "mean": {name: summarize(values) for name, values in scores.items()},
        "per_image": {name: {k: v.tolist() for k, v in values.items()} for name, values in scores.items()},
    }
    save_json(Path(run_dir) / METRICS_FILE, metrics)
    return metrics
