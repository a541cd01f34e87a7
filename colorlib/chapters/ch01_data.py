"""Notebook 01, the data: where the photos come from, the config, one pixel's Lab, and the photos that show the Lab channels and the squashing best."""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage.color.colorconv import xyz_from_rgb

from colorlib.config import PROFILES
from colorlib.dataset import load_rgb
from colorlib.lab import WHITE
from colorlib.metrics import colourfulness
from colorlib.sources import relative_names


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


def srgb_to_lab_by_hand(rgb8):
    """One 8-bit sRGB colour to L*a*b*, each step of the conversion spelt out.

    The steps: scale to [0, 1]; undo the sRGB gamma (screens store light non-linearly); mix
    the linear light into CIE XYZ with sRGB's matrix; divide by the D65 white's XYZ; take the
    cube root (with a linear piece near black) that makes equal steps look roughly equal;
    combine into lightness and two opponent colour axes.

    Parameters
    ----------
    rgb8 : sequence of 3 int

    Returns
    -------
    dict of str to ndarray
        Each step's value, the last (``"L*a*b*"``) the result.
    """
    rgb = np.asarray(rgb8, dtype=np.float64) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = xyz_from_rgb @ linear
    relative = xyz / WHITE
    f = np.where(relative > (6 / 29) ** 3, np.cbrt(relative), relative / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])
    return {"sRGB / 255": rgb, "linear RGB": linear, "XYZ": xyz, "XYZ / white": relative, "f": f, "L*a*b*": lab}
