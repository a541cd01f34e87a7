"""Where the photos come from, and how they are split into training and validation.

Three sources: fastai's COCO sample (the capstone's), any local folder, and the natural photos
that ship inside installed packages (the offline default). Every source yields file paths.
"""
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
NAMED_SOURCES = ("auto", "coco_sample", "samples")  # DATA settings that name a source, not a folder


@dataclass(frozen=True)
class DataSource:
    """A list of image files and a sentence saying where they came from and why."""

    name: str
    paths: tuple
    reason: str

    def __len__(self):
        return len(self.paths)


def package_photo_paths():
    """Return the natural photos shipped inside scikit-image, scikit-learn and matplotlib.

    They are always on disk, so a run never needs the network: astronaut, chelsea, coffee,
    rocket and motorcycle_left (scikit-image), china and flower (scikit-learn), grace_hopper
    (matplotlib).
    """
    import matplotlib
    import skimage
    import sklearn

    skimage_data = Path(skimage.__file__).parent / "data"
    sklearn_images = Path(sklearn.__file__).parent / "datasets" / "images"
    matplotlib_data = Path(matplotlib.get_data_path()) / "sample_data"
    paths = [
        skimage_data / "astronaut.png",
        skimage_data / "chelsea.png",
        skimage_data / "coffee.png",
        skimage_data / "rocket.jpg",
        skimage_data / "motorcycle_left.png",
        sklearn_images / "china.jpg",
        sklearn_images / "flower.jpg",
        matplotlib_data / "grace_hopper.jpg",
    ]
    missing = [str(p.name) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"package photos missing from the installed packages: {missing}")
    return paths


def list_images(folder):
    """List the image files under a folder, recursively, sorted by path.

    A sub-folder that is a symbolic link is followed, unless it leads to a folder already
    listed (a link loop, or the same folder twice); such folders, unreadable ones, links to
    files that lead nowhere (dangling, or in a loop) and entries that are no regular file (a
    FIFO, a device such as ``/dev/zero``, a socket: reading one could block or never end) are
    left out, and a warning names each of them.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or holds no image files.
    NotADirectoryError
        If it is a file.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"image folder {folder} is a file, not a folder; expected a folder of images")
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist; expected a folder of images")
    paths, skipped = [], []
    visited = {os.path.realpath(folder)}

    def unreadable(error):
        skipped.append(f"{error.filename} (unreadable: {error.strerror or type(error).__name__})")

    for root, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        for name in list(dirs):
            real = os.path.realpath(os.path.join(root, name))
            if real in visited:  # os.walk would go round a link loop until the path is too long
                skipped.append(f"{os.path.join(root, name)} (a link to a folder already listed: {real})")
                dirs.remove(name)
            else:
                visited.add(real)
        for name in files:
            path = Path(root) / name
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.is_file():
                paths.append(path)
            elif path.exists():
                skipped.append(f"{path} (not a regular file: {special_kind(path)})")
            elif path.is_symlink():  # is_file follows links: this one leads nowhere, or round in a loop
                skipped.append(f"{path} (a link that leads to no file: dangling or looping)")
    if skipped:
        warnings.warn(f"{len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} of {folder} left out: "
                      + "; ".join(sorted(skipped)), stacklevel=2)
    if not paths:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise FileNotFoundError(f"image folder {folder} holds no images; expected files ending in {suffixes}")
    return sorted(paths)


def special_kind(path):
    """What a path that is neither a regular file nor a folder is, in words ("a FIFO", "a device", ...)."""
    mode = os.stat(path).st_mode
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
             (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"a link to {kind}" if os.path.islink(path) else kind


def coco_sample_folder(download=True):
    """Return fastai's COCO sample folder of training photos, downloading it if asked.

    Returns None when the sample is neither extracted locally nor downloadable.
    """
    with warnings.catch_warnings():
        # fastai's import warns about torch.jit and pandas options, naming site-packages paths.
        warnings.simplefilter("ignore")
        from fastai.data.external import URLs, fastai_cfg, untar_data

    extracted = Path(fastai_cfg().data_path()) / "coco_sample" / "train_sample"
    if extracted.is_dir():
        return extracted
    if not download:
        return None
    try:
        return Path(untar_data(URLs.COCO_SAMPLE)) / "train_sample"
    except Exception as error:  # no network, a proxy, a broken archive: fall back, and say why
        print(f"Could not download fastai's COCO sample ({type(error).__name__}: {error}).")
        return None


def resolve_data(data="auto", download=True):
    """Turn a DATA setting into a DataSource.

    Parameters
    ----------
    data : str
        ``"samples"`` for the package photos, ``"coco_sample"`` for fastai's COCO sample,
        a folder path, or ``"auto"``: the ``COLORLIB_DATA`` environment variable, then an
        extracted or downloadable COCO sample, then the package photos.
    download : bool
        Whether ``"auto"`` and ``"coco_sample"`` may download the COCO sample.
    """
    if data == "samples":
        return DataSource("samples", tuple(package_photo_paths()), "the photos shipped in installed packages")
    if data == "coco_sample":
        folder = coco_sample_folder(download)
        if folder is None:
            raise FileNotFoundError("fastai's COCO sample is not extracted here and could not be downloaded")
        return DataSource("coco_sample", tuple(list_images(folder)), "fastai's COCO sample, as the capstone")
    if data == "auto":
        if os.environ.get("COLORLIB_DATA"):
            return DataSource(
                "folder", tuple(list_images(os.environ["COLORLIB_DATA"])),
                "the COLORLIB_DATA environment variable names this folder",
            )
        folder = coco_sample_folder(download)
        if folder is not None:
            return DataSource("coco_sample", tuple(list_images(folder)), "fastai's COCO sample is available")
        return DataSource(
            "samples", tuple(package_photo_paths()),
            "no COLORLIB_DATA folder and no COCO sample: falling back to the package photos",
        )
    return DataSource("folder", tuple(list_images(data)), "the folder given as DATA")


def split_paths(paths, n_images=0, val_fraction=0.25, seed=98):
    """Draw n_images at random and split them into disjoint training and validation lists.

    The draw follows the capstone's code (numpy seed, ``choice`` without replacement, then a
    permutation), so the same file list and seed give the capstone's images. Paths are sorted
    first so that the split does not depend on the order the filesystem lists them in.

    Parameters
    ----------
    paths : sequence of path-like
    n_images : int
        How many to draw; 0 takes them all.
    val_fraction : float
        Share of the drawn images held out for validation, in (0, 1).
    seed : int

    Returns
    -------
    train, val : list of Path
    """
    paths = np.array(sorted(str(p) for p in paths))
    n_images = n_images or len(paths)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    if n_images > len(paths):
        raise ValueError(f"asked for {n_images} images but the source holds only {len(paths)}")
    n_val = max(1, round(n_images * val_fraction))
    if n_val >= n_images:
        raise ValueError(f"{n_images} images are too few to hold out {val_fraction:.0%} for validation")
    train_idx, val_idx = _capstone_indices(paths, n_images, n_val, seed)
    return [Path(p) for p in train_idx], [Path(p) for p in val_idx]


def capstone_split(paths, n_images=0, val_fraction=0.25, seed=98):
    """Reproduce the capstone's split, bug included: its validation list reused the train indices.

    The capstone wrote ``validation_paths = paths_data[t_i]``, so its "validation" images were
    training images. Kept only to show the difference in notebook 01; use :func:`split_paths`.
    """
    paths = np.array(sorted(str(p) for p in paths))
    n_images = n_images or len(paths)
    n_val = max(1, round(n_images * val_fraction))
    train, _ = _capstone_indices(paths, n_images, n_val, seed)
    return [Path(p) for p in train], [Path(p) for p in train]


def _capstone_indices(paths, n_images, n_val, seed):
    rng = np.random.RandomState(seed)
    chosen = rng.choice(paths, n_images, replace=False)
    order = rng.permutation(n_images)
    return chosen[order[: n_images - n_val]], chosen[order[n_images - n_val:]]


def relative_names(paths):
    """Names that tell files apart without a machine's folders: each path relative to the folder all share."""
    paths = [os.path.abspath(p) for p in paths]
    if not paths:
        return []
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    return [os.path.relpath(p, root) for p in paths]


def shared_images(train, val):
    """How many validation paths also appear in training (0 for a sound split)."""
    return len(set(map(str, train)) & set(map(str, val)))
