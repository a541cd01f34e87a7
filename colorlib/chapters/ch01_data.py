"""Notebook 01, the data: where the photos come from, how their colours differ by source, the config, and the photos that show the Lab channels and the squashing best."""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from colorlib.config import PROFILES
from colorlib.dataset import load_rgb
from colorlib.markup import markdown_code
from colorlib.metrics import colourfulness
from colorlib.sources import relative_names
from colorlib.tables import text_table


def most_colourful(paths, size=128):
    """The most colourful of some photos by Hasler and Suesstrunk's measure, and every photo's score.

    Each photo is scored resized to size x size (:func:`colorlib.metrics.colourfulness`), so that
    large photos cost no more than small ones.

    Parameters
    ----------
    paths : sequence of path-like
    size : int

    Returns
    -------
    (path, ndarray)
        The path with the highest colourfulness, and the scores in the order of ``paths``.
    """
    scores = np.array([float(colourfulness(np.asarray(load_rgb(p, size)) / 255.0)) for p in paths])
    return paths[int(np.argmax(scores))], scores


def most_colourful_oblong(paths, scores, min_aspect=1.25):
    """The most colourful photo whose sides differ by at least ``min_aspect``, to show squashing.

    Parameters
    ----------
    paths : sequence of path-like
    scores : ndarray
        Each photo's colourfulness, from :func:`most_colourful`.
    min_aspect : float
        The least ratio of the longer side to the shorter one.

    Returns
    -------
    path or None
        None when every photo is closer to square than that. The sides are read from the file's
        header, without decoding it (orientation does not change the ratio).
    """
    sides = []
    for path in paths:
        with Image.open(path) as image:
            sides.append(image.size)
    oblong = np.array([max(w, h) >= min_aspect * min(w, h) for w, h in sides])
    if not oblong.any():
        return None
    return paths[int(np.argmax(np.where(oblong, scores, -np.inf)))]


def source_of(name, main_source):
    """The source a photo came from: the first folder of its run-relative name, else the main source's name.

    Parameters
    ----------
    name : str
        The photo's name relative to the folder every photo of the run shares
        (:func:`colorlib.sources.relative_names`, the data manifest's ``file``).
    main_source : str
        The split's source (``split.source``), for a photo that sits directly in that folder.
    """
    parts = Path(name).parts
    return parts[0] if len(parts) > 1 else main_source


def photos_by_source(split):
    """The training photos grouped by the folder they came from, the largest group first.

    With ``extra_train_data`` the training side mixes the main source with other folders
    (e.g. COCO with Imagenette); the folders' names tell them apart.

    Parameters
    ----------
    split : Split

    Returns
    -------
    dict of str to list of path
    """
    names = relative_names(split.train + split.val)[:len(split.train)]  # relative to every photo's folder
    groups = {}
    for path, name in zip(split.train, names):
        groups.setdefault(source_of(name, split.source), []).append(path)
    return dict(sorted(groups.items(), key=lambda item: -len(item[1])))


def plot_sources(counts):
    """A bar per source: how many training photos it gave, and its share of them.

    Parameters
    ----------
    counts : dict of str to int

    Returns
    -------
    Figure
    """
    labels, values = list(counts)[::-1], list(counts.values())[::-1]  # the largest at the top
    total = sum(values)
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(values)))
    bars = ax.barh(labels, values, color="tab:blue")
    ax.bar_label(bars, [f"{v:,} ({v / total:.0%})" for v in values], padding=3)
    ax.set_xlim(0, 1.3 * max(values))
    ax.set_xlabel("training photos")
    ax.set_title(f"where the {total:,} training photos come from")
    fig.tight_layout()
    return fig


def show_photos_by_source(groups, per_source=4, size=2.0):
    """A row of each source's first training photos, the row named by its source.

    Parameters
    ----------
    groups : dict of str to list of path
        From :func:`photos_by_source`.
    per_source : int
    size : float
        Inches per photo.
    """
    fig, axes = plt.subplots(len(groups), per_source, figsize=(size * per_source, size * len(groups)),
                             squeeze=False)
    for row, (source, paths) in zip(axes, groups.items()):
        for ax, path in zip(row, paths[:per_source] + [None] * per_source):
            if path is not None:
                ax.imshow(load_rgb(path, 128))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
        row[0].set_ylabel(source, rotation=0, ha="right", va="center", fontsize=11)
    fig.tight_layout()
    return fig


def config_changes(config, profile):
    """The fields where ``config`` differs from its profile's, one ``field = value`` line each.

    Notebook 01 prints the whole config; the later notebooks print only this.
    """
    own = PROFILES[profile].asdict()
    changed = [f"{name:<20} = {value!r}" for name, value in config.asdict().items() if own[name] != value]
    head = f"the {profile!r} profile"
    return head + (", with these fields changed:\n" + "\n".join(changed) if changed else ", unchanged")


# What each source the course knows is, how it was gathered and how a reader elsewhere gets it.
# Keyed by the folder a photo's run-relative name starts with (the data manifest's first folder).
SOURCES = {
    "coco": ("MS COCO 2017 photos: the offline stand-in for fastai's COCO sample", 799,
             "drawn from COCO's train2017 (516) and val2017 (283); 308 are 947 x 710 copies made by a third party, "
             "the others COCO's own files (longer side 640)",
             "fastai's `untar_data(URLs.COCO_SAMPLE)` (21,837 COCO photos), or each file of data_manifest.csv by its "
             "COCO id from cocodataset.org"),
    "coco-extra": ("more MS COCO 2017 photos, none of them in coco (by id and sha256); training only", 183,
                   "39 COCO files as published, 144 third-party 947 x 710 copies",
                   "each file of data_manifest.csv by its COCO id from cocodataset.org"),
    "imagenet-det": ("ImageNet photos of the 200 categories of its object detection challenge (people, food, "
                     "animals, vehicles, furniture: COCO's kind of scene); training only", 944,
                     "about five a category, shorter side resized to 256 px; nearly colourless and small ones left out",
                     "ImageNet (image-net.org, under its terms), by the WordNet id and photo id in each file name"),
    "imagenet-sample": ("one ImageNet (ILSVRC-2012) photo for each of its 1,000 classes; training only", 1000,
                        "longer side resized to 400 px", "ImageNet (image-net.org, under its terms), by file name"),
    "imagenette": ("fastai's Imagenette: ten easily told ImageNet classes (tench, English springer, cassette player, "
                   "chain saw, church, French horn, garbage truck, gas pump, golf ball, parachute); training only",
                   9469, "the set's training side, stored at 160 x 160 px (fastai's smallest Imagenette size)",
                   "fastai's `untar_data(URLs.IMAGENETTE_160)`"),
}
SOURCES["coco_sample"] = (
    "fastai's COCO sample, the capstone's source", 21837, "fastai's sample of MS COCO 2017 training photos",
    "fastai's `untar_data(URLs.COCO_SAMPLE)`, then `train_sample/`")
# The photos that ship inside installed packages (the `samples` source: always offline).
SOURCES.update({
    "skimage": ("scikit-image's sample photos (astronaut, chelsea, coffee, rocket, motorcycle_left)", 5,
                "installed with scikit-image", "`skimage.data`, with `pip install scikit-image`"),
    "sklearn": ("scikit-learn's sample photos (china, flower)", 2, "installed with scikit-learn",
                "`sklearn.datasets.load_sample_images()`, with `pip install scikit-learn`"),
    "matplotlib": ("matplotlib's sample photo of Grace Hopper", 1, "installed with matplotlib",
                   "`matplotlib.cbook.get_sample_data('grace_hopper.jpg')`"),
})


ALIASES = {"train_sample": "coco_sample"}  # fastai's COCO sample keeps its photos in train_sample/


def pool_sources(split):
    """The source of every photo of ``split.train + split.val``, in that order (:func:`source_of`)."""
    names = relative_names(split.train + split.val)
    return [ALIASES.get(source, source) for source in (source_of(name, split.source) for name in names)]


def sources_markdown(split):
    """A Markdown table of every source the course knows and any other this run read: what each is, how it was
    gathered, how to get it, and how many photos the run took from it.

    The sources the run read come first, the largest on the training side first; the counts of
    the run (training and validation photos) are computed from the split, the rest is what the
    source's own README says of it. Every file the run used is named, with its sha256, in the
    run's ``data_manifest.csv`` (copied into the report).
    """
    sources = pool_sources(split)
    n_train = len(split.train)
    used = {}
    for i, source in enumerate(sources):
        used.setdefault(source, [0, 0])[i >= n_train] += 1
    lines = ["| source | what it is | photos in it | how it was gathered | how to get it elsewhere | "
             "this run: training | this run: validation |", "|" + " --- |" * 7]
    read = sorted(used, key=lambda source: (-used[source][0], -used[source][1]))
    for source in read + [source for source in SOURCES if source not in used]:
        train, val = used.get(source, (0, 0))
        what, count, gathered, elsewhere = SOURCES.get(source, ("a folder of photos", None, "", ""))
        lines.append(f"| {markdown_code(source)} | {what} | {'' if count is None else f'{count:,}'} | {gathered} | {elsewhere} | "
                     f"{train:,} | {val:,} |")
    return "\n".join(lines)


def colourfulness_by_source(split, scores):
    """Each source's photos, training and validation apart: how many, and their mean and median colourfulness.

    Parameters
    ----------
    split : Split
    scores : ndarray
        Each photo's colourfulness, in the order of ``split.train + split.val`` (:func:`most_colourful`).

    Returns
    -------
    str
        A plain-text table, a row per source and side ("coco (training)"), the validation rows last.
    """
    n_train = len(split.train)
    groups = {}
    for i, source in enumerate(pool_sources(split)):
        groups.setdefault((i >= n_train, source), []).append(scores[i])
    rows = {}
    for (is_val, source), values in sorted(groups.items(), key=lambda item: (item[0][0], -len(item[1]))):
        rows[f"{source} ({'validation' if is_val else 'training'})"] = {
            "photos": f"{len(values):,}", "mean colourfulness": f"{np.mean(values):.1f}",
            "median": f"{np.median(values):.1f}"}
    return text_table(rows)


def describe_colour_gap(split, scores):
    """One sentence, computed: the training photos' mean colourfulness against the validation photos'."""
    n_train = len(split.train)
    train, val = float(np.mean(scores[:n_train])), float(np.mean(scores[n_train:]))
    return (f"The {n_train:,} training photos score {train:.1f} on average, the {len(split.val):,} validation photos "
            f"{val:.1f}: the photos it learns from are {abs(train - val) / val:.0%} "
            f"{'more' if train > val else 'less'} colourful than those it is scored on, and what a generator learns "
            "to paint is its training photos' colour.")
