"""The ``colorize`` command: files and folders colorized into an output folder, never over an input.

``python -m colorlib colorize INPUT... -o OUT --checkpoint CKPT`` (see :mod:`colorlib.cli`). Each
output goes to a temporary file made exclusively beside it, then is renamed
(:func:`colorlib.atomic.write_atomically`); an output that is an input, a link or below one,
an existing file (without ``--overwrite``), or of a format Pillow cannot write is refused with a
reason, and a file that fails is reported and skipped.
"""
import os
import sys
import warnings
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from colorlib.atomic import output_folder, write_atomically
from colorlib.checkpoints import CheckpointError
from colorlib.colorizer import colorize, colorize_budget, load_colorizer
from colorlib.images import ImageRejected
from colorlib.sources import list_images

SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}


ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}  # formats a colorized photo keeps its transparency in


def run_colorize(args):
    """Run the ``colorize`` command; the exit code is 0, 1 if any file failed, 2 for a bad checkpoint or
    output folder, 130 on Ctrl-C."""
    try:
        output_folder(args.out, "-o")  # before the generator loads: a file there would fail every photo
        generator, own_spec = load_colorizer(args.checkpoint, chroma_scale=args.chroma_scale)
        spec = own_spec.replace(size=args.size) if args.size else own_spec
    except (FileNotFoundError, NotADirectoryError, CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted while loading the generator: no image was written", file=sys.stderr)
        return 130
    memory = colorize_budget(spec, getattr(args, "max_memory", None))  # measured once the generator is loaded
    if memory and memory.fixed_bytes > memory.limit:
        where = "allowed (--max-memory)" if getattr(args, "max_memory", None) else "available"
        print(f"error: the generator of {args.checkpoint} needs about {memory.fixed_bytes / 1e9:.2f} GB to "
              f"colorize at a {spec.size} px square, before any photo; {memory.limit / 1e9:.2f} GB is {where}. "
              f"Give a smaller --size (the checkpoint's own is {own_spec.size}).", file=sys.stderr)
        return 2
    try:
        written, failed = colorize_files(args.inputs, args.out, generator, spec,
                                         overwrite=getattr(args, "overwrite", False), memory=memory)
    except KeyboardInterrupt:  # colorize_files has said what was written and what was not
        return 130
    print(summarize_files(written, failed, args.out))
    return 1 if failed else 0


def colorize_files(inputs, out_dir, generator, spec, overwrite=False, memory=None):
    """Colorize files and folders into out_dir; a file that fails is reported and skipped.

    A folder's images (:func:`colorlib.sources.list_images`) keep their path below the folder.
    Each failure is written to stderr as one line when it happens, as is each warning
    ("warning: ...", e.g. an animation of which only the first frame is colorized).

    Parameters
    ----------
    inputs : list of path-like
    out_dir : path-like
    generator : nn.Module
    spec : colorlib.models.GeneratorSpec
        Both as :func:`colorlib.colorizer.load_colorizer` gives them.
    overwrite : bool
        Replace files already in out_dir (never an input, never through a link).
    memory : colorlib.images.MemoryBudget, optional
        Photos that would need more are refused before decoding.

    Returns
    -------
    written : list of Path
    failed : dict
        {input path as given: the reason, one line}.
    """
    jobs, failed = plan_outputs(inputs, Path(out_dir), overwrite)
    for message in failed.values():
        print(f"error: {message}", file=sys.stderr)
    written = []
    bar = tqdm(jobs, unit="image", disable=len(jobs) < 2 or not sys.stderr.isatty())
    for done, (source, target) in enumerate(bar):
        try:
            reason = colorize_file(source, target, generator, spec, memory, overwrite)
        except KeyboardInterrupt:
            bar.close()
            print(interrupted_message(written, [source for source, _ in jobs[done:]], out_dir), file=sys.stderr)
            raise
        if reason:
            failed[str(source)] = reason
            tqdm.write(f"error: {reason}", file=sys.stderr)
        else:
            written.append(target)
    return written, failed


def colorize_file(source, target, generator, spec, memory=None, overwrite=False):
    """Colorize one file into target; returns None, or why it failed in one line. Warnings go to stderr.

    Without ``overwrite``, a target that another process wrote meanwhile is kept, and this one fails.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = colorize(source, generator, spec, memory)
    except ImageRejected as error:
        return str(error)
    for warning in caught:
        tqdm.write(f"warning: {warning.message}", file=sys.stderr)
    try:
        save_like_source(image, target, replace=overwrite)
    except FileExistsError:
        return f"{source}: the output {target} appeared while it was colorized (another process?); it is kept"
    except (OSError, ValueError) as error:  # a read-only folder, a full disk, a suffix Pillow cannot write
        return f"{source}: could not write {target} ({error})"
    return None


def plan_outputs(inputs, out_dir, overwrite=False):
    """[(source, target)] for every image of the inputs, and {input: reason} for those refused.

    A folder's images inside out_dir (an output folder within the input folder) are not inputs:
    a rerun never colorizes the last run's outputs again. Refused: an input folder that is
    out_dir or lies within it (a link to it included), and a target of a format Pillow
    cannot write, below a folder that is a link, that is a link, that is an input, that an
    earlier input already takes, or that exists when ``overwrite`` is False.
    """
    jobs, failed, targets = [], {}, set()
    for given in map(Path, inputs):
        if given.is_dir() and inside(given, out_dir):
            failed[str(given)] = (f"{given}: the output folder {out_dir} is this input folder or holds it; its "
                                  "photos would be written among themselves: choose an output folder outside it")
        elif given.is_dir():
            try:
                jobs += [(path, out_dir / path.relative_to(given)) for path in list_images(given)
                         if not inside(path, out_dir)]
            except FileNotFoundError as error:
                failed[str(given)] = str(error)
        elif given.is_file():
            jobs.append((given, out_dir / given.name))
        else:
            failed[str(given)] = f"{given}: no such file or folder"
    planned = []
    sources = [source for source, _ in jobs]
    for source, target in jobs:
        reason = refusal(source, target, out_dir, sources, targets, overwrite)
        if reason:
            failed[str(source)] = f"{source}: {reason}"
        else:
            targets.add(target.resolve())
            planned.append((source, target))
    return planned, failed


def refusal(source, target, out_dir, sources, targets, overwrite):
    """Why source must not be colorized into target (see :func:`plan_outputs`), or None."""
    if output_format(target) is None:
        return (f"the output {target} has {target.suffix or 'no extension'}, not an image format Pillow writes; "
                "name the input with its format's extension (.jpg, .png, ...)")
    below = target.relative_to(out_dir).parents[:-1]  # the sub-folders; out_dir itself is the user's choice
    linked = [folder for folder in below if (out_dir / folder).is_symlink()]
    if linked:
        return (f"the output folder {out_dir / linked[-1]} is a link; outputs are never written through links")
    if target.is_symlink():
        return f"the output {target} is a link; outputs are never written through links"
    if any(same_file(target, other) for other in sources):
        return f"the output {target} is one of the inputs; it is never written over: choose another output folder"
    if target.resolve() in targets:
        return f"an earlier input has the same output name {target.name}"
    if not overwrite and os.path.lexists(target):
        return f"the output {target} already exists; give --overwrite to replace it"
    return None


def inside(path, folder):
    """Whether path lies within folder, links resolved."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def same_file(a, b):
    """True when two paths name one file: the same path, a link to it, or a hard link (os.path.samefile)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def save_like_source(image, target, replace=True):
    """Save in the format the file name says (JPEG stays JPEG), at high quality for lossy formats.

    Written to a temporary file made exclusively beside the target, then renamed onto it
    (:func:`colorlib.atomic.write_atomically`): an interrupted save never leaves half a file, a
    link planted in the folder is never followed, and a hard link to the old target keeps the
    old content. ``replace=False`` keeps a file that exists at target (FileExistsError).
    """
    file_format = output_format(target)
    if image.mode == "RGBA" and file_format not in ALPHA_FORMATS:  # JPEG and the like: over white, as it was seen
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image).convert("RGB")
    write_atomically(target, lambda file: image.save(file, file_format, **SAVE_OPTIONS.get(file_format, {})),
                     replace=replace)


def output_format(target):
    """The Pillow format a file name asks for (``.jpg``: JPEG), or None when Pillow cannot write it."""
    file_format = Image.registered_extensions().get(target.suffix.lower())
    return file_format if file_format in Image.SAVE else None


def interrupted_message(written, left, out_dir):
    """What Ctrl-C leaves: the images written, and those not (the one under way first; no partial file of it)."""
    names = ", ".join(map(str, left[:3])) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
    return (f"interrupted: {len(written)} of {len(written) + len(left)} images written into {out_dir}; "
            f"not written: {names} (no partial file is left)")


def summarize_files(written, failed, out_dir):
    """One line: how many images were written where, and which inputs failed."""
    line = f"colorized {len(written)} of {len(written) + len(failed)} images into {out_dir}"
    return line + (f"; failed: {', '.join(failed)}" if failed else "")
