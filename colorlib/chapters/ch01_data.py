"""Notebook 01, the data: the photos that show the Lab channels and the squashing best."""
import numpy as np
from PIL import Image

from colorlib.dataset import load_rgb
from colorlib.metrics import colourfulness


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
