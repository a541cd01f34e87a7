"""Photos as training pairs: the L channel in, the ab channels to predict.

Two datasets give the same items: :class:`ColorizationDataset` decodes and converts each photo
every time (the capstone's way), :class:`LabTensorDataset` indexes Lab tensors decoded once
(see :mod:`colorlib.cache`). Training items are flipped horizontally at random.
"""
import random

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from colorlib.images import read_rgb
from colorlib.lab import rgb_to_lab


def load_rgb(path, size=None):
    """Open an image as 8-bit RGB (see :func:`colorlib.images.read_rgb`), optionally resized to size x size."""
    image = Image.fromarray(read_rgb(path))
    if size is not None:
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return image


class ColorizationDataset(Dataset):
    """Normalised L and ab tensors of square photos.

    Parameters
    ----------
    paths : sequence of path-like
    split : {"train", "val"}
        Training items are flipped horizontally at random; validation items only resized.
    size : int
        Side of the square the photos are resized to.
    """

    def __init__(self, paths, split, size):
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if not paths:
            raise ValueError(f"no images for the {split} split")
        self.paths = list(paths)
        self.split = split
        self.size = size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        image = load_rgb(self.paths[index], self.size)
        if self.split == "train" and torch.rand(()) < 0.5:
            image = ImageOps.mirror(image)
        L, ab = rgb_to_lab(np.asarray(image))
        return {"L": torch.from_numpy(L), "ab": torch.from_numpy(ab)}


class LabTensorDataset(Dataset):
    """Items from a stack of normalised Lab tensors, flipped on the tensor when training.

    Parameters
    ----------
    lab : Tensor, shape (N, 3, S, S)
        Channel 0 is L, channels 1-2 are ab (any float dtype; items are float32).
    split : {"train", "val"}
    """

    def __init__(self, lab, split):
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if len(lab) == 0:
            raise ValueError(f"no images for the {split} split")
        self.lab = lab
        self.split = split

    def __len__(self):
        return len(self.lab)

    def __getitem__(self, index):
        lab = self.lab[index].float()
        if self.split == "train" and torch.rand(()) < 0.5:
            lab = lab.flip(-1)
        return {"L": lab[:1], "ab": lab[1:]}


def seed_worker(worker_id):
    """Seed numpy and random in a DataLoader worker from its torch seed, so runs repeat."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
