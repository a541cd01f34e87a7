"""The capstone this course rebuilds, as data: its published recipe, and this run set beside it.

Notebook 03 and the report's front page show the same table (:func:`comparison_rows`), so that a
reader sees at once how far a run is from the capstone's 9,000 photos, 256 px and 11 GPU hours.
"""
import os

from colorlib.markup import markdown_text

# fastai's COCO sample (URLs.COCO_SAMPLE, train_sample/) and what the capstone drew from it.
COCO_SAMPLE_PHOTOS = 21_837
CAPSTONE_PHOTOS = 12_000  # drawn at random from the sample with numpy's seed 98...
CAPSTONE_TRAIN_PHOTOS = 9_000  # ...of which the first 9,000 trained it

CAPSTONE_SSIM = 0.87  # the mean validation SSIM the capstone published

# What the capstone published (its notebook and write-up): the one place these figures are typed.
CAPSTONE = {
    "training photos": (f"{CAPSTONE_TRAIN_PHOTOS:,} COCO photos (of {CAPSTONE_PHOTOS:,} drawn from fastai's "
                        f"{COCO_SAMPLE_PHOTOS:,}-photo COCO sample)"),
    "validation photos": (f"{CAPSTONE_PHOTOS - CAPSTONE_TRAIN_PHOTOS:,} drawn, but scored on training photos "
                          "(notebook 01)"),
    "image size": "256 px",
    "encoder and starting weights": "ResNet18, ImageNet weights",
    "loss": "L1, then GAN + 100 x L1",
    "epochs (pretraining + GAN)": "30 + 70",
    "hardware": "one NVIDIA V100 GPU",
    "training time": "about 11 hours",
}
ENCODERS = {"resnet18": "ResNet18", "efficientnet_lite0": "EfficientNet-Lite0"}
WEIGHTS = {"imagenet": "ImageNet weights", "random": "random weights (no ImageNet weights here)"}
LOSSES = {"regression": "L1", "classification": "classification over a*b* bins"}


def hardware(cuda=None, cpu_count=None):
    """A run's hardware in words: its GPU's name, else its CPU cores.

    Parameters
    ----------
    cuda : str, optional
        The GPU's name (``torch.cuda.get_device_name``); None when the run had none.
    cpu_count : int, optional
        CPU cores; None: this machine's.
    """
    if cuda:
        return f"one {cuda} GPU"
    return f"{cpu_count or os.cpu_count()} CPU cores, no GPU"


def duration(seconds):
    """Seconds in words: minutes under two hours, else hours (``"39.6 minutes"``, ``"11.2 hours"``)."""
    return f"{seconds / 60:.1f} minutes" if seconds < 7200 else f"{seconds / 3600:.1f} hours"


def comparison_rows(config, train_photos, val_photos, weights=None, hardware_text=None, seconds=None,
                    seconds_what="training", train_sources=None):
    """The capstone's recipe beside this run's, one (aspect, capstone, this run) row each.

    Parameters
    ----------
    config : Config
        The run's configuration (size, encoder, loss, epochs).
    train_photos, val_photos : int
        The run's training and validation photos.
    weights : {"imagenet", "random"}, optional
        What the generator's encoder started from; None: the config's wish (``imagenet_weights``).
    hardware_text : str, optional
        The run's hardware (:func:`hardware`); None: this machine.
    seconds : float, optional
        The run's training time; None leaves the row out of this run's column ("not yet known").
    seconds_what : str
        What ``seconds`` covers, said beside it (e.g. "pretraining only").
    train_sources : dict of str to int, optional
        Training photos by the folder they came from (``colorlib.chapters.ch01_data``), said
        beside the count when there are several: the capstone's were all COCO photos.

    Returns
    -------
    list of tuple of str
    """
    notes = [f"crops of photos held at {config.photo_size} px"] if config.photo_size != config.size else []
    if config.output_stride > 1:
        notes.append(f"colour predicted at {config.size // config.output_stride} px and upsampled")
    size = f"{config.size} px" + (f" ({'; '.join(notes)})" if notes else "")
    start = WEIGHTS.get(weights, f"ImageNet weights if they can be had ({config.imagenet_weights!r})")
    loss = f"{LOSSES[config.head]}, then " + (
        f"GAN + {config.lambda_cross_entropy:g} x the same classification loss"
        if config.gan_reconstruction == "cross_entropy" else f"GAN + {config.lambda_l1:g} x L1")
    time_text = f"{duration(seconds)} ({seconds_what})" if seconds is not None else "not yet known"
    ours = {
        "training photos": f"{train_photos:,}" + (
            ": " + ", ".join(f"{n:,} {source}" for source, n in train_sources.items())
            if train_sources and len(train_sources) > 1 else ""),
        "validation photos": f"{val_photos:,}, kept apart from training",
        "image size": size,
        "encoder and starting weights": f"{ENCODERS[config.encoder]}, {start}",
        "loss": loss,
        "epochs (pretraining + GAN)": f"{config.pretrain_epochs} + {config.gan_epochs}"
                                      + (f" (the GAN on {config.gan_photos:,} photos)" if config.gan_photos else ""),
        "hardware": hardware_text or hardware(),
        "training time": time_text,
    }
    return [(aspect, capstone, ours[aspect]) for aspect, capstone in CAPSTONE.items()]


def comparison_markdown(rows):
    """:func:`comparison_rows` as a Markdown table (for ``IPython.display.Markdown``).

    Every cell is shown as its text (:func:`colorlib.markup.markdown_text`): a*b* stays a*b*, and a
    training folder's name never becomes markup.
    """
    lines = ["| | the capstone | this run |", "| --- | --- | --- |"]
    lines += ["| " + " | ".join(map(markdown_text, row)) + " |" for row in rows]
    return "\n".join(lines)
