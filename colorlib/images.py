"""Reading photos safely: any file becomes 8-bit RGB, or is set aside with a named reason.

A training run never stops for one bad file: :func:`scan_images` checks every file once, keeps
the usable photos, and counts the others by reason.
"""
import errno
import io
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from skimage.color import rgb2lab

# Mean chroma (Lab units, on a 64 px thumbnail) below which a photo counts as near-colourless:
# a tinted monochrome or a faded print teaches the generator "no colour". On the COCO
# stand-in it sets aside 3 such photos beside the 16 stored as, or equal to, greyscale.
CHROMA_THRESHOLD = 2.0
# Largest difference between R, G and B (of 255) that still counts as grey: JPEG noise.
GREY_TOLERANCE = 2
MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # Pillow's decompression-bomb limit, about 89 megapixels
# What the system says when it cannot open a file, as a reason of REASONS.
OPEN_ERRORS = {errno.ENOENT: "missing", errno.EACCES: "permission_denied", errno.EPERM: "permission_denied",
               errno.EISDIR: "is_a_folder", errno.ELOOP: "symlink_loop"}
# Pillow's single-channel numeric modes and the factor that takes their range to 0-255.
NUMERIC_SCALES = {"I;16": 1 / 257, "I;16B": 1 / 257, "I;16L": 1 / 257, "I;16N": 1 / 257, "I": 1 / 257, "F": 255.0}

REASONS = {
    "empty": "empty file",
    "not_an_image": "not an image Pillow can identify",
    "truncated": "truncated or corrupt image data",
    "not_finite": "pixels that are not numbers (NaN or infinity)",
    "decompression_bomb": f"more than {MAX_PIXELS:,} pixels (decompression-bomb guard)",
    "too_large": "needs more memory than allowed",
    "missing": "no such file",
    "permission_denied": "permission denied: the file cannot be read",
    "is_a_folder": "a folder, not an image file",
    "symlink_loop": "a symbolic link that loops (too many levels of links)",
    "unreadable": "the file cannot be opened",
    "too_small": "smaller than the training size",
    "greyscale": "greyscale: no colour to learn",
    "colourless": f"near-colourless (mean chroma below {CHROMA_THRESHOLD})",
    "duplicate": "the same bytes as another photo",
}


class ImageRejected(ValueError):
    """A file that cannot serve as a colour photo; ``reason`` is a key of :data:`REASONS`."""

    def __init__(self, path, reason, detail=""):
        self.path, self.reason, self.detail = path, reason, detail
        super().__init__(f"{path}: {REASONS[reason]}" + (f" ({detail})" if detail else ""))


def read_rgb(path, max_pixels=MAX_PIXELS):
    """Read an image file as an 8-bit RGB array, EXIF orientation applied.

    CMYK, palette, greyscale, 16-bit and float images are converted; transparency is composited
    over white; an animation gives its first frame. See :func:`read_picture`.

    Raises
    ------
    ImageRejected
        With a reason of :data:`REASONS` that says why the file cannot be read.
    """
    return read_picture(path, max_pixels).composited()


def read_picture(path, max_pixels=MAX_PIXELS, memory=None):
    """Read an image file as a :class:`Picture`: colours and alpha apart, EXIF orientation applied.

    Parameters
    ----------
    path : path-like
    max_pixels : int
        Larger images are refused before decoding (the decompression-bomb guard).
    memory : MemoryBudget, optional
        Refuse, before decoding, an image whose job would need more memory than it allows.

    Raises
    ------
    ImageRejected
        ``missing``, ``permission_denied``, ``is_a_folder``, ``symlink_loop`` or ``unreadable`` when
        the file cannot be opened; ``empty``, ``not_an_image``, ``truncated``, ``decompression_bomb``
        or ``too_large`` for its content.
    """
    try:
        file = open(path, "rb")  # opened once, here, so that what the system refuses is named as such
    except OSError as error:
        raise ImageRejected(path, OPEN_ERRORS.get(error.errno, "unreadable"), error.strerror or "") from None
    try:
        with file, warnings.catch_warnings(record=True) as caught:  # Pillow's warnings name no file
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if not file.read(1):
                raise ImageRejected(path, "empty")
            file.seek(0)
            with Image.open(file) as image:
                if image.width * image.height > max_pixels:
                    raise ImageRejected(path, "decompression_bomb", f"{image.width} x {image.height}")
                if memory is not None:
                    memory.check(path, image.width, image.height)
                image.load()  # the first frame of an animation
                ImageOps.exif_transpose(image, in_place=True)  # in place: no second copy of a large photo
                if image.mode == "F" and not np.isfinite(values := np.asarray(image)).all():
                    bad = int((~np.isfinite(values)).sum())
                    raise ImageRejected(path, "not_finite", f"{bad} of {values.size} pixels")
                picture = Picture(*split_alpha(in_srgb(image, path)), frames=getattr(image, "n_frames", 1))
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(path, "decompression_bomb", str(error)) from None
    except UnidentifiedImageError:
        raise ImageRejected(path, "not_an_image") from None
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's ways of saying "corrupt"
        raise ImageRejected(path, "truncated", str(error)) from None
    for warning in caught:
        message = str(warning.message)
        warnings.warn(message if message.startswith(str(path)) else f"{path}: {message}", warning.category,
                      stacklevel=2)
    return picture


@dataclass
class Picture:
    """A decoded image: its colours as stored, its alpha channel, and how many frames its file holds.

    Attributes
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
        The colours, not composited: where alpha is 0 they can be anything.
    alpha : ndarray, shape (H, W), uint8, or None
        None for an opaque image.
    frames : int
        Frames in the file (an animated GIF, WebP or PNG has several); ``rgb`` is the first.
    """

    rgb: np.ndarray
    alpha: np.ndarray = None
    frames: int = 1

    def composited(self):
        """(H, W, 3) uint8: the image over white, what training and the generator see."""
        if self.alpha is None:
            return self.rgb
        rgba = Image.fromarray(np.dstack([self.rgb, self.alpha]), "RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def to_rgb8(image):
    """Convert a Pillow image of any mode to an (H, W, 3) uint8 array, transparency over white."""
    return Picture(*split_alpha(image)).composited()


ICC_MODES = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB", "L": "RGB"}  # mode -> mode in sRGB
SRGB = ImageCms.createProfile("sRGB")


def in_srgb(image, path):
    """The image with its colours moved from its embedded ICC profile into sRGB, the course's colour space.

    A photo tagged Adobe RGB (or any other profile) whose values were read as sRGB would show
    wrong colours, its L* off by several units. An image without a profile is taken as sRGB, as
    browsers take it; one whose profile cannot be used keeps its values, with a warning naming it.
    Alpha is carried over unchanged.
    """
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ICC_MODES:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        in_place = ICC_MODES[image.mode] == image.mode  # no second copy of a large photo
        converted = ImageCms.profileToProfile(image, source, SRGB, outputMode=ICC_MODES[image.mode], inPlace=in_place)
    except (OSError, ImageCms.PyCMSError) as error:
        warnings.warn(f"{path}: its ICC profile cannot be applied ({error}); its values are taken as sRGB")
        return image
    return image if in_place else converted


def split_alpha(image):
    """(rgb, alpha) of a Pillow image of any mode: (H, W, 3) uint8, and (H, W) uint8 or None when opaque.

    Single-channel numeric modes are scaled by what the mode holds, never by the values seen: a
    dark 16-bit photo stays dark. ``I;16*`` and ``I`` (how Pillow opens 16-bit PNGs and TIFFs)
    hold 0-65535; ``F`` (32-bit float TIFFs) holds 0-1, the convention of scikit-image and tifffile.
    """
    if image.mode in NUMERIC_SCALES:
        values = np.asarray(image, dtype=np.float32) * np.float32(NUMERIC_SCALES[image.mode])
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2), None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB")), None


@dataclass(frozen=True)
class MemoryBudget:
    """The memory a job may use, and what it needs for a photo: checked before decoding.

    Attributes
    ----------
    limit : int
        Bytes allowed.
    bytes_per_pixel : float
        What the job needs per pixel of the photo, as measured (``make bench`` for colorize).
    job : str
        What the memory is for, in the error: "colorize".
    fixed_bytes : float
        What the job needs whatever the photo's size (for colorize, the generator's square).
    """

    limit: int
    bytes_per_pixel: float
    job: str = "process"
    fixed_bytes: float = 0

    def need(self, width, height):
        """Bytes the job needs for a width x height photo."""
        return self.fixed_bytes + width * height * self.bytes_per_pixel

    def check(self, path, width, height):
        """Raise :class:`ImageRejected` (``too_large``) when a width x height photo needs more than the limit."""
        need = self.need(width, height)
        if need > self.limit:
            raise ImageRejected(path, "too_large", f"{width} x {height} pixels, {width * height / 1e6:.1f} megapixels: "
                                f"about {need / 1e9:.2f} GB to {self.job}, {self.limit / 1e9:.2f} GB allowed")


def available_memory():
    """Bytes of memory the system can give now (MemAvailable on Linux; else the free pages), or None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this system
        return None


def colour_reason(rgb):
    """``"greyscale"``, ``"colourless"`` or None for a colour photo (see the thresholds above)."""
    thumbnail = Image.fromarray(rgb)
    thumbnail.thumbnail((64, 64))
    small = np.asarray(thumbnail).astype(np.int16)
    if np.abs(np.diff(small, axis=2)).max() <= GREY_TOLERANCE:
        return "greyscale"
    lab = rgb2lab(small.astype(np.uint8))
    if np.hypot(lab[..., 1], lab[..., 2]).mean() < CHROMA_THRESHOLD:
        return "colourless"
    return None


def check_photo(path, min_side=0):
    """Read a training photo: 8-bit RGB, at least min_side pixels a side, and in colour.

    Raises
    ------
    ImageRejected
        For every reason in :data:`REASONS`.
    """
    rgb = read_rgb(path)
    if min(rgb.shape[:2]) < min_side:
        raise ImageRejected(path, "too_small", f"{rgb.shape[1]} x {rgb.shape[0]}, needs {min_side}")
    reason = colour_reason(rgb)
    if reason:
        raise ImageRejected(path, reason)
    return rgb


@dataclass
class ScanResult:
    """Photos kept for training and evaluation, and those set aside, by reason."""

    kept: list = field(default_factory=list)  # paths, as str
    excluded: dict = field(default_factory=dict)  # path (str) -> reason
    sizes: dict = field(default_factory=dict)  # path (str) -> (width, height) of kept photos

    def counts(self):
        """{"found", "kept", "excluded": {reason: n}}."""
        return {"found": len(self.kept) + len(self.excluded), "kept": len(self.kept),
                "excluded": dict(sorted(Counter(self.excluded.values()).items()))}

    def summary(self):
        """One line: found, kept, and excluded by reason."""
        counts = self.counts()
        excluded = ", ".join(f"{n} {reason}" for reason, n in counts["excluded"].items()) or "none"
        return f"{counts['found']} images found, {counts['kept']} kept; excluded: {excluded}"


def scan_images(paths, min_side=0, check=check_photo):
    """Check every file once; keep the usable photos and count the rest by reason.

    Parameters
    ----------
    paths : sequence of path-like
    min_side : int
        Photos with a shorter side are set aside as too small.
    check : callable(path, min_side) -> RGB array
        Raises :class:`ImageRejected` for a file to set aside.
    """
    result = ScanResult()
    for path in map(str, paths):
        try:
            rgb = check(path, min_side)
            result.kept.append(path)
            result.sizes[path] = (rgb.shape[1], rgb.shape[0])
        except ImageRejected as rejected:
            result.excluded[path] = rejected.reason
    return result
