"""Notebook 06, colorizing photos: before and after, the resolution, and notebook 02's variants colorized."""
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from colorlib.colorizer import LIGHTNESS_TOLERANCE, colorize, colorize_at_model_size, read_photo
from colorlib.lab import lightness
from colorlib.metrics import colourfulness, colourfulness_word
from colorlib.plots import show_images


def colorize_variants(rgb, generator, spec, original=None):
    """A photo's contrast variants (notebook 02), each as the generator sees it and as it colours it.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), float in [0, 1]
    generator : nn.Module
    spec : colorlib.models.GeneratorSpec
        Both from :func:`colorlib.colorizer.load_colorizer`.
    original : PIL.Image, optional
        The photo's colorization, already made (e.g. by :func:`colorlib.colorizer.colorize_photos`):
        used as the "original" variant's, so that one photo has one colorization and one score.

    Returns
    -------
    variants, colorized : dict of ndarray
        {name: RGB float image}: each variant grey, with exactly the L* of
        :func:`colorlib.preprocessing.lightness_variants` (the generator's whole input), and its colorization.
    """
    from colorlib.preprocessing import grey_with_lightness, lightness_variants

    variants = {name: grey_with_lightness(L) for name, L in lightness_variants(rgb).items()}
    colorized = {name: np.asarray(colorize(image, generator, spec)) / 255.0 for name, image in variants.items()
                 if not (name == "original" and original is not None)}
    if original is not None:
        colorized = {"original": np.asarray(original) / 255.0, **colorized}
    return variants, colorized


def variants_markdown(variants, colorized, photo=None):
    """A Markdown table: per variant, its L* spread and the colourfulness of its colorization.

    With ``photo`` (RGB float), a last row gives the photo's own colourfulness to compare with.
    """
    lines = ["| variant | mean L\\* | L\\* standard deviation | colourfulness of the colorization | in words |",
             "| --- | --- | --- | --- | --- |"]
    for name, image in variants.items():
        L, colour = lightness(image), float(colourfulness(colorized[name]))
        lines.append(f"| {name} | {L.mean():.1f} | {L.std():.1f} | {colour:.1f} | {colourfulness_word(colour)} |")
    if photo is not None:
        own = float(colourfulness(photo))
        lines.append(f"| the photo's own colours | | | {own:.1f} | {colourfulness_word(own)} |")
    return "\n".join(lines)


def describe_variants(variants, colorized):
    """One sentence, computed: which preprocessing gives the most and the least colourful colorization."""
    colour = {name: float(colourfulness(image)) for name, image in colorized.items()}
    most, least = max(colour, key=colour.get), min(colour, key=colour.get)
    flat, original = colour.get("low contrast"), colour.get("original")
    sentence = (f"The most colourful colorization comes from the {most} L\\* ({colour[most]:.1f}), the least "
                f"colourful from the {least} L\\* ({colour[least]:.1f}).")
    if flat is not None and original is not None:
        sentence += (f" Flattening the contrast moves the colorization's colourfulness from {original:.1f} to "
                     f"{flat:.1f}: the generator reads colour from the lightness it is given.")
    return sentence


def show_before_after(results, size=2.2):
    """One column per photo: the grey input (its L*, titled with the file name), the colorization, the original.

    Each column is as wide as its photo at the row's height, so that photos of any shape sit
    side by side without gaps.
    """
    rows = {"grey input": [], "colorized": [], "original": []}
    for photo, colorized in results.values():
        rows["grey input"].append(lightness(photo / 255.0) / 100.0)
        rows["colorized"].append(np.asarray(colorized) / 255.0)
        rows["original"].append(photo / 255.0)
    aspects = [photo.shape[1] / photo.shape[0] for photo, _ in results.values()]
    fig, axes = plt.subplots(len(rows), len(aspects), figsize=(size * sum(aspects) + 0.6, size * len(rows) + 0.4),
                             gridspec_kw={"width_ratios": aspects, "wspace": 0.03, "hspace": 0.03}, squeeze=False)
    for axes_row, (label, images) in zip(axes, rows.items()):
        for ax, image in zip(axes_row, images):
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
        axes_row[0].set_ylabel(label, fontsize=12)
    for ax, name in zip(axes[0], results):
        ax.set_title(name, fontsize=9)
    fig.subplots_adjust(left=0.6 / (size * sum(aspects) + 0.6), right=0.995, top=1 - 0.3 / (size * len(rows) + 0.4),
                        bottom=0.005)
    return fig


def describe_colourfulness(results):
    """Each photo's colourfulness as colorized and as it is, and their means: does the colour hold on new photos?"""
    lines = [f"{'photo':<20} {'colorized':>9} {'original':>9}"]
    pairs = []
    for name, (photo, colorized) in results.items():
        pair = (float(colourfulness(np.asarray(colorized) / 255.0)), float(colourfulness(photo / 255.0)))
        pairs.append(pair)
        lines.append(f"{name:<20} {pair[0]:>9.1f} {pair[1]:>9.1f}")
    made, real = np.mean(pairs, axis=0)
    lines.append(f"{'mean':<20} {made:>9.1f} {real:>9.1f}  ({made / real:.0%} of the originals' colourfulness)")
    return "\n".join(lines)


def describe_lightness(results):
    """One line per photo: its size, the result's, and whether the result kept every L* value."""
    lines = []
    for name, (photo, colorized) in results.items():
        delta = np.abs(lightness(np.asarray(colorized) / 255.0) - lightness(photo / 255.0)).max()
        kept = ("yes" if delta <= LIGHTNESS_TOLERANCE else "NO") + f" (max |dL*| {delta:.2f})"
        height, width = photo.shape[:2]
        lines.append(f"{name:<20} {width:>4} x {height:<4} -> {colorized.width:>4} x {colorized.height:<4}"
                     f"  L* kept within {LIGHTNESS_TOLERANCE}: {kept}")
    return "\n".join(lines)


def crop_slices(shape, box):
    """Row and column slices of box = (left, top, right, bottom), fractions of the image."""
    height, width = shape[:2]
    left, top, right, bottom = box
    rows = slice(round(top * height), round(bottom * height))
    return rows, slice(round(left * width), round(right * width))


def colour_side(spec):
    """The side, in pixels, of the grid a generator predicts its a*b* on: its size over its output stride."""
    return spec.size // spec.output_stride


def describe_resolution(path, spec):
    """What each panel of :func:`show_resolution_comparison` holds, computed from the generator's spec, in Markdown."""
    height, width = read_photo(path).shape[:2]
    side = colour_side(spec)
    grid = (f"its colour predicted on a {side} x {side} grid, as its decoder stops at 1/{spec.output_stride} of the "
            "side, and upsampled onto the square's L\\*" if spec.output_stride > 1 else
            f"its colour predicted at {side} x {side} too")
    return (f"A crop of the first photo ({width} x {height} px): the photo itself; the generator's output as it "
            f"comes, a {spec.size} x {spec.size} square ({grid}), resized to the photo; and the full-resolution "
            f"recipe, the same colours laid on the photo's own L\\*. The colours are the same in both "
            f"colorizations: {side} values a side for the whole photo, one for each block of about "
            f"{width / side:.0f} x {height / side:.0f} pixels. The resized square's lightness has lost every "
            f"detail finer than 1/{spec.size} of the photo's side (about {width / spec.size:.0f} pixels across "
            "here), while the full-resolution result keeps all of it.")


def show_resolution_comparison(path, generator, spec, box):
    """A crop of the photo, of the model-size output resized up, and of the full-resolution result."""
    photo = read_photo(path)
    crop = crop_slices(photo.shape, box)
    images = [photo, np.asarray(colorize_at_model_size(photo, generator, spec)),
              np.asarray(colorize(photo, generator, spec))]
    side = colour_side(spec)
    titles = ["photo", f"the {spec.size} px square (colour {side} px), resized up",
              f"colour at {side} px, L* at {photo.shape[1]} x {photo.shape[0]}"]
    return show_images([image[crop] for image in images], titles, ncols=3, size=3.5)


def describe_detail(path, size, box):
    """The crop's detail, as the mean size of the L* gradient: at full resolution and through the square.

    The full-resolution result keeps the photo's L*; a model-size output only carries the photo
    squeezed to size x size and resized back.
    """
    photo = read_photo(path)
    square = Image.fromarray(photo).resize((size, size), Image.Resampling.BICUBIC)
    upscaled = np.asarray(square.resize((photo.shape[1], photo.shape[0]), Image.Resampling.BICUBIC))
    crop = crop_slices(photo.shape, box)
    detail = [np.hypot(*np.gradient(lightness(rgb / 255.0)[crop])).mean() for rgb in (photo, upscaled)]
    return (f"mean |gradient of L*| in the crop: full resolution {detail[0]:.1f}, "
            f"model size resized up {detail[1]:.1f}")
