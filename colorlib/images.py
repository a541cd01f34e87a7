"""Reading photos safely: any file becomes 8-bit RGB, or is set aside with a named reason.

A training run never stops for one bad file: :func:`scan_images` checks every file once, keeps
the usable photos, and counts the others by reason.
"""
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from skimage.color import rgb2lab

# Mean chroma (Lab units, on a 64 px thumbnail) below which a photo counts as near-colourless:
# a tinted monochrome or a faded print teaches the generator "no colour". On the COCO
# stand-in it sets aside 3 such photos beside the 16 stored as, or equal to, greyscale.
CHROMA_THRESHOLD = 2.0
# Largest difference between R, G and B (of 255) that still counts as grey: JPEG noise.
GREY_TOLERANCE = 2
MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # Pillow's decompression-bomb limit, about 89 megapixels

REASONS = {
    "empty": "empty file",
    "not_an_image": "not an image Pillow can identify",
    "truncated": "truncated or corrupt image data",
    "decompression_bomb": f"more than {MAX_PIXELS:,} pixels (decompression-bomb guard)",
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

    CMYK, palette, greyscale and 16-bit images are converted; transparency is composited
    over white.

    Raises
    ------
    ImageRejected
        With reason ``empty``, ``not_an_image``, ``truncated`` or ``decompression_bomb``.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open(path, "rb") as file:
                if not file.read(1):
                    raise ImageRejected(path, "empty")
            with Image.open(path) as image:
                if image.width * image.height > max_pixels:
                    raise ImageRejected(path, "decompression_bomb", f"{image.width} x {image.height}")
                image.load()
                return to_rgb8(ImageOps.exif_transpose(image))
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(path, "decompression_bomb", str(error)) from None
    except UnidentifiedImageError:
        raise ImageRejected(path, "not_an_image") from None
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's ways of saying "corrupt"
        raise ImageRejected(path, "truncated", str(error)) from None


def to_rgb8(image):
    """Convert a Pillow image of any mode to an (H, W, 3) uint8 array."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max() > 255 else 1.0  # 16-bit (0-65535) down to 8-bit
        grey = np.clip(np.round(values / scale), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"))


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
