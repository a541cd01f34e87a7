"""The ``colorize`` command: files and folders colorized into an output folder, never over an input.

``python -m colorlib colorize INPUT... -o OUT --checkpoint CKPT`` (see :mod:`colorlib.cli`). Each
output goes to a temporary file, then is renamed; an output that is an input, a link, or an
existing file (without ``--overwrite``) is refused with a reason, and a file that fails is
reported and skipped.
"""
import os
import sys
import warnings
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from colorlib.checkpoints import CheckpointError
from colorlib.colorizer import colorize, colorize_budget, load_colorizer
from colorlib.images import ImageRejected
from colorlib.sources import list_images

SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}


ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}  # formats a colorized photo keeps its transparency in


def run_colorize(args):
    """Run the ``colorize`` command; the exit code is 0, 1 if any file failed, 2 for a bad checkpoint, 130 on Ctrl-C."""
    try:
        generator, spec = load_colorizer(args.checkpoint, chroma_scale=args.chroma_scale)
        spec = spec.replace(size=args.size) if args.size else spec
    except (FileNotFoundError, CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted while loading the generator: no image was written", file=sys.stderr)
        return 130
    memory = colorize_budget(getattr(args, "max_memory", None))  # measured once the generator is loaded
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
            reason = colorize_file(source, target, generator, spec, memory)
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


def colorize_file(source, target, generator, spec, memory=None):
    """Colorize one file into target; returns None, or why it failed in one line. Warnings go to stderr."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = colorize(source, generator, spec, memory)
    except ImageRejected as error:
        return str(error)
    for warning in caught:
        tqdm.write(f"warning: {warning.message}", file=sys.stderr)
    try:
        save_like_source(image, target)
    except (OSError, ValueError) as error:  # a read-only folder, a full disk, a suffix Pillow cannot write
        return f"{source}: could not write {target} ({error})"
    return None


def plan_outputs(inputs, out_dir, overwrite=False):
    """[(source, target)] for every image of the inputs, and {input: reason} for those refused.

    Refused: a target that is a link, that is an input, that an earlier input already takes, or
    that exists when ``overwrite`` is False.
    """
    jobs, failed, targets = [], {}, set()
    for given in map(Path, inputs):
        if given.is_dir():
            try:
                jobs += [(path, out_dir / path.relative_to(given)) for path in list_images(given)]
            except FileNotFoundError as error:
                failed[str(given)] = str(error)
        elif given.is_file():
            jobs.append((given, out_dir / given.name))
        else:
            failed[str(given)] = f"{given}: no such file or folder"
    planned = []
    sources = [source for source, _ in jobs]
    for source, target in jobs:
        if target.is_symlink():
            failed[str(source)] = f"{source}: the output {target} is a link; outputs are never written through links"
        elif any(same_file(target, other) for other in sources):
            failed[str(source)] = (f"{source}: the output {target} is one of the inputs; it is never written over: "
                                   "choose another output folder")
        elif target.resolve() in targets:
            failed[str(source)] = f"{source}: an earlier input has the same output name {target.name}"
        elif not overwrite and os.path.lexists(target):
            failed[str(source)] = f"{source}: the output {target} already exists; give --overwrite to replace it"
        else:
            targets.add(target.resolve())
            planned.append((source, target))
    return planned, failed


def same_file(a, b):
    """True when two paths name one file: the same path, a link to it, or a hard link (os.path.samefile)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def save_like_source(image, target):
    """Save in the format the file name says (JPEG stays JPEG), at high quality for lossy formats.

    Written to a temporary file beside the target, then renamed onto it: an interrupted save
    never leaves half a file, and a hard link to the old target keeps the old content.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    file_format = Image.registered_extensions().get(target.suffix.lower())
    if image.mode == "RGBA" and file_format not in ALPHA_FORMATS:  # JPEG and the like: over white, as it was seen
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image).convert("RGB")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, file_format, **SAVE_OPTIONS.get(file_format, {}))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def interrupted_message(written, left, out_dir):
    """What Ctrl-C leaves: the images written, and those not (the one under way first; no partial file of it)."""
    names = ", ".join(map(str, left[:3])) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
    return (f"interrupted: {len(written)} of {len(written) + len(left)} images written into {out_dir}; "
            f"not written: {names} (no partial file is left)")


def summarize_files(written, failed, out_dir):
    """One line: how many images were written where, and which inputs failed."""
    line = f"colorized {len(written)} of {len(written) + len(failed)} images into {out_dir}"
    return line + (f"; failed: {', '.join(failed)}" if failed else "")
