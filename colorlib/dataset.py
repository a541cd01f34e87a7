"""Photos as training pairs: the L channel in, the ab channels to predict.

Two datasets give the same items: :class:`ColorizationDataset` decodes and converts each photo
every time (the capstone's way), :class:`LabTensorDataset` indexes Lab tensors decoded once
(see :mod:`colorlib.cache`). Training items are flipped horizontally at random and, when asked,
cut to a random crop (:func:`random_resized_crop`): more photos' worth of views against
overfitting, and a way to train at a low resolution on photos kept at a higher one.
"""
import math
import random

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from colorlib.images import read_rgb
from colorlib.lab import dequantise_lab, rgb_to_lab


def load_rgb(path, size=None):
    """Open an image as 8-bit RGB (see :func:`colorlib.images.read_rgb`), optionally resized to size x size."""
    image = Image.fromarray(read_rgb(path))
    if size is not None:
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return image


def random_resized_crop(lab, size, min_scale=1.0):
    """A random part of a photo's tensor, resized to size x size (bilinear, antialiased).

    The part keeps a share of the photo's area drawn uniformly from [min_scale, 1], with an aspect
    ratio drawn log-uniformly from [3/4, 4/3] (clipped to the photo), anywhere in the photo.
    Draws come from torch's global generator, so seeded and resumed runs repeat.

    Parameters
    ----------
    lab : Tensor, shape (C, H, W)
    size : int
    min_scale : float
        In (0, 1]; 1 keeps the whole photo (then only resized).

    Returns
    -------
    Tensor, shape (C, size, size), float32
    """
    if not 0 < min_scale <= 1:
        raise ValueError(f"min_scale must lie in (0, 1], got {min_scale}")
    height, width = lab.shape[-2:]
    lab = lab.float()
    if min_scale < 1:
        scale, log_ratio = torch.rand(2).tolist()
        area = height * width * (min_scale + (1 - min_scale) * scale)
        ratio = math.exp((2 * log_ratio - 1) * math.log(4 / 3))
        w = min(width, max(1, round(math.sqrt(area * ratio))))
        h = min(height, max(1, round(math.sqrt(area / ratio))))
        top, left = (int(torch.randint(0, n + 1, ())) for n in (height - h, width - w))
        lab = lab[:, top:top + h, left:left + w]
    if lab.shape[-2:] == (size, size):
        return lab
    return F.interpolate(lab[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def augment(lab, crop_size=None, min_scale=1.0):
    """A training view of a (3, H, W) Lab tensor: mirrored at random, cropped when crop_size is given."""
    if torch.rand(()) < 0.5:
        lab = lab.flip(-1)
    return lab if crop_size is None else random_resized_crop(lab, crop_size, min_scale)


class ColorizationDataset(Dataset):
    """Normalised L and ab tensors of square photos.

    Parameters
    ----------
    paths : sequence of path-like
    split : {"train", "val"}
        Training items are flipped horizontally at random; validation items only resized.
    size : int
        Side of the square the photos are resized to.
    crop_size : int, optional
        Training items: a random crop of the resized photo (see :func:`random_resized_crop`),
        resized to crop_size x crop_size. None: the whole photo.
    min_scale : float
        Smallest share of the photo's area a crop keeps.
    """

    def __init__(self, paths, split, size, crop_size=None, min_scale=1.0):
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if not paths:
            raise ValueError(f"no images for the {split} split")
        self.paths = list(paths)
        self.split = split
        self.size = size
        self.crop_size, self.min_scale = crop_size, min_scale

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        image = load_rgb(self.paths[index], self.size)
        if self.split == "train" and torch.rand(()) < 0.5:
            image = ImageOps.mirror(image)
        L, ab = rgb_to_lab(np.asarray(image))
        if self.split == "train" and self.crop_size is not None:
            lab = random_resized_crop(torch.from_numpy(np.concatenate([L, ab])), self.crop_size, self.min_scale)
            return {"L": lab[:1], "ab": lab[1:]}
        return {"L": torch.from_numpy(L), "ab": torch.from_numpy(ab)}


class LabTensorDataset(Dataset):
    """Items from a stack of 8-bit Lab codes, flipped on the tensor when training.

    The photos stay 8-bit in memory (:meth:`colorlib.cache.LabCache.stack`); each item is
    turned back into normalised Lab when it is read.

    Parameters
    ----------
    lab : Tensor, shape (N, 3, S, S), uint8
        Codes of :func:`colorlib.lab.quantise_lab`: channel 0 is L, channels 1-2 are ab (items are float32).
    split : {"train", "val"}
    crop_size, min_scale
        As in :class:`ColorizationDataset`.
    """

    def __init__(self, lab, split, crop_size=None, min_scale=1.0):
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if len(lab) == 0:
            raise ValueError(f"no images for the {split} split")
        if lab.dtype != torch.uint8:
            raise TypeError(f"LabTensorDataset holds 8-bit Lab codes (colorlib.lab.quantise_lab), got {lab.dtype}")
        self.lab = lab
        self.split = split
        self.crop_size, self.min_scale = crop_size, min_scale

    def __len__(self):
        return len(self.lab)

    def __getitem__(self, index):
        lab = dequantise_lab(self.lab[index])
        if self.split == "train":
            lab = augment(lab, self.crop_size, self.min_scale)
        return {"L": lab[:1], "ab": lab[1:]}


def seed_worker(worker_id):
    """Seed numpy and random in a DataLoader worker from its torch seed, so runs repeat."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
