"""Photos as training pairs: the L channel in, the ab channels to predict.

Each item is read with Pillow, converted to RGB, resized to a square, flipped at random when
training, and converted to normalised Lab (see :mod:`colorlib.lab`).
"""
import random

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset

from colorlib.lab import rgb_to_lab


def load_rgb(path, size=None):
    """Open an image as 8-bit RGB (EXIF orientation applied), optionally resized to size x size."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
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


def seed_worker(worker_id):
    """Seed numpy and random in a DataLoader worker from its torch seed, so runs repeat."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def make_loader(dataset, batch_size, seed, num_workers=0, shuffle=None, pin_memory=False):
    """Return a seeded DataLoader; shuffles (and drops the last partial batch) for training."""
    train = dataset.split == "train" if shuffle is None else shuffle
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train,
        drop_last=train and len(dataset) > batch_size,
        num_workers=num_workers,
        worker_init_fn=seed_worker,
        generator=generator,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )
