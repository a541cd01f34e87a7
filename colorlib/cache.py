"""The Lab tensor cache: each photo is decoded, resized and converted to Lab once per size.

Entries are keyed by the file's content (sha256), the size and :data:`PREPROCESSING_VERSION`,
so a changed photo, size or conversion never reuses a stale tensor. They live outside the
repository (``COLORLIB_CACHE``, else ``$XDG_CACHE_HOME/colorlib``, else ``~/.cache/colorlib``).
"""
import hashlib
import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorlib.atomic import write_atomically
from colorlib.images import read_rgb
from colorlib.lab import quantise_lab, rgb_to_lab

# Bump whenever the way a photo becomes a tensor changes (resizing, conversion, dtype).
PREPROCESSING_VERSION = 2


def default_cache_dir():
    """Where cached tensors go unless a folder is given."""
    if os.environ.get("COLORLIB_CACHE"):
        return Path(os.environ["COLORLIB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "colorlib"


def file_digest(path):
    """sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_digest(digest, where="the cache key"):
    """Return ``digest`` if it is a sha256 hex digest (64 characters 0-9a-f), else raise ValueError.

    A digest becomes a file name in the cache: anything else (``../..``) could leave the cache folder.
    """
    if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise ValueError(f"{where} {digest!r} is not a sha256 digest; expected 64 hexadecimal characters")
    return digest


def lab_tensor(rgb, size):
    """Resize an RGB uint8 array to size x size and return normalised Lab, (3, size, size) float16."""
    resized = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC))
    L, ab = rgb_to_lab(resized)
    return torch.from_numpy(np.concatenate([L, ab])).to(torch.float16)


class LabCache:
    """Normalised Lab tensors of photos at one size, computed once and kept on disk.

    Parameters
    ----------
    size : int
        Side of the square the photos are resized to.
    root : path-like, optional
        Cache folder; :func:`default_cache_dir` when None.
    """

    def __init__(self, size, root=None):
        self.size = size
        self.root = Path(root) if root is not None else default_cache_dir()
        self.folder = self.root / f"v{PREPROCESSING_VERSION}" / f"{size}px"
        self.hits = self.misses = 0

    def entry(self, digest):
        """The cache file of a photo's sha256 ``digest`` (refused unless 64 hex characters)."""
        digest = check_digest(digest)
        return self.folder / digest[:2] / f"{digest}.pt"

    def get(self, path, digest=None):
        """The photo's (3, size, size) float16 Lab tensor, from the cache or computed and stored.

        ``digest`` is the file's sha256 when the caller has just computed it; None hashes the file
        now. A cache entry that cannot be read (truncated, overwritten) is named and rebuilt; where the
        cache folder cannot be written, a warning says so and the tensor is returned uncached.
        """
        entry = self.entry(digest or file_digest(path))
        if entry.is_file():
            try:
                tensor = torch.load(entry, weights_only=True)
            except Exception as error:
                tensor = None
                warnings.warn(f"cache entry {entry} for {path} is corrupt ({type(error).__name__}); rebuilding it",
                              stacklevel=2)
            if (torch.is_tensor(tensor) and tensor.shape == (3, self.size, self.size)
                    and torch.isfinite(tensor).all()):  # a NaN would reach the loss and stop training
                self.hits += 1
                return tensor
            if tensor is not None:
                warnings.warn(f"cache entry {entry} for {path} holds no finite {self.size} px Lab tensor; "
                              "rebuilding it", stacklevel=2)
        self.misses += 1
        tensor = lab_tensor(read_rgb(path), self.size)
        try:
            write_atomically(entry, lambda file: torch.save(tensor, file))  # a crash never leaves half a file
        except OSError as error:  # a read-only or full disk, a file where the folder goes: run on uncached
            warnings.warn(f"the Lab cache folder {self.root} cannot be written ({error.strerror or error}): photos "
                          "are decoded again each time they are needed, which is slower; set COLORLIB_CACHE to a "
                          "writable folder, or cache=false to say so", stacklevel=2)
        return tensor

    def stack(self, paths, digests=None):
        """All photos as one (N, 3, size, size) uint8 tensor of 8-bit Lab codes (:func:`colorlib.lab.quantise_lab`).

        Half the bytes of the cache's float16 (a quarter of float32), and filled a photo at a
        time: stacking a list of the photos' tensors held them twice. Read them back a batch at a
        time with :func:`colorlib.lab.dequantise_lab`.
        """
        digests = digests or [None] * len(paths)
        codes = torch.empty((len(paths), 3, self.size, self.size), dtype=torch.uint8)
        for row, path, digest in zip(codes, paths, digests):
            row.copy_(quantise_lab(self.get(path, digest)))
        return codes
