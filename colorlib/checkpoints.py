"""The run folder's files on disk: JSON and checkpoints written atomically, loaded with checks, and a lock.

Every file colorlib writes into a run folder goes through :func:`save_json` or
:func:`save_checkpoint` (a unique temporary file, fsync, then rename: a crash keeps the old file or
the new one), and every checkpoint comes back through :func:`load_checkpoint`, which loads plain
data only and names the file in every error. :func:`run_lock` keeps a second process out of a
run folder that one is training in. :func:`load_generator` rebuilds a generator from the
spec and weights its checkpoint carries.
"""
import contextlib
import dataclasses
import functools
import inspect
import json
import os
from pathlib import Path

import torch

from colorlib.atomic import write_atomically, write_file
from colorlib.config import Config
from colorlib.models import GeneratorSpec

# The files of a run folder, one name each: every module reads them from here.
SPLIT_FILE = "split.json"
PRETRAINED_FILE = "generator_pretrained.pt"
PRETRAIN_HISTORY_FILE = "pretrain_history.json"
GAN_FILE = "gan.pt"
GAN_HISTORY_FILE = "gan_history.json"
MANIFEST_FILE = "data_manifest.csv"
METRICS_FILE = "metrics.json"
PER_IMAGE_FILE = "per_image.csv"
RUN_CHECKPOINTS = {"pretrained": PRETRAINED_FILE, "gan": GAN_FILE}  # a run's generators, in training order


def save_json(path, data):
    """Write JSON atomically (a unique temporary file, fsync, then rename)."""
    write_file(path, json.dumps(data, indent=2) + "\n")


def load_json(path):
    """A JSON file colorlib wrote, read back; a file that is not valid JSON is named in the error."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}): was it edited by hand or cut short? "
                         "Rerun the step that writes it") from None


def save_checkpoint(path, **state):
    """Save state_dicts and plain data atomically, so a crash keeps the last good file."""
    write_atomically(path, lambda file: torch.save(state, file))


class CheckpointError(ValueError):
    """A checkpoint file that is not what colorlib wrote: empty, truncated, or of another format."""


CHECKPOINT = "a checkpoint written by colorlib (torch.save of a dict of state_dicts and plain data)"


def load_checkpoint(path, map_location="cpu", mmap=False, require=(), expected=CHECKPOINT):
    """Load a checkpoint written by :func:`save_checkpoint` (plain data only, weights_only), checking its form.

    Parameters
    ----------
    path : path-like
    map_location : str or torch.device
    mmap : bool
        Map the tensors instead of reading them: enough to look at the plain data.
    require : iterable of str
        Keys the checkpoint must hold. With ``"config"`` among them its config must hold exactly
        the fields of :class:`colorlib.config.Config`; with ``"generator"`` that must be a state_dict.
    expected : str
        What the caller expected, for the error messages.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is empty, truncated or not loadable safely, or lacks what ``require`` asks
        for; the message names the file and what was expected.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint {path} is a folder; expected {expected} (a file, e.g. "
                                f"{path / GAN_FILE})")
    if path.exists() and not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a regular file (a device, a pipe or a socket); "
                              f"expected {expected}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; expected {expected}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty; expected {expected}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as error:  # truncated, not a zip, a pickled object: all say "not ours"
        raise CheckpointError(f"{path} is not a checkpoint torch can load safely "
                              f"({type(error).__name__}: it may be truncated); expected {expected}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a dict; expected {expected}")
    return check_checkpoint(state, path, require, expected)


def check_checkpoint(state, path, require=(), expected=CHECKPOINT):
    """Check a loaded checkpoint holds ``require`` (see :func:`load_checkpoint`); returns it."""
    missing = [key for key in require if key not in state]
    if missing:
        raise CheckpointError(f"{path} has no {', '.join(map(repr, missing))}; expected {expected}")
    if "generator" in require and not (isinstance(state["generator"], dict)
                                       and all(torch.is_tensor(v) for v in state["generator"].values())):
        raise CheckpointError(f"{path}: its 'generator' is not a state_dict of tensors; expected {expected}")
    if "config" in require:
        checkpoint_config(state, path)
    return state


# Config fields added after checkpoints were first written: their defaults do what colorlib did
# before they existed, so a checkpoint without them is read with the defaults.
LATER_FIELDS = {"gan_reconstruction", "lambda_cross_entropy", "decoder", "gan_batch_size", "disc_filters", "study_full_budget"}


def checkpoint_config(state, path):
    """The :class:`~colorlib.config.Config` a checkpoint was written with, refusing extra, missing or bad fields.

    Raises
    ------
    CheckpointError
        Naming the file and the fields; a missing field means another version of colorlib wrote it.
    """
    config = state.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: its 'config' is a {type(config).__name__}, expected a dict of Config fields")
    fields = {f.name for f in dataclasses.fields(Config)}
    extra, missing = sorted(set(config) - fields), sorted(fields - set(config) - LATER_FIELDS)
    if extra or missing:
        raise CheckpointError(f"{path}: its config has unknown fields {extra} and lacks fields {missing}; "
                              "expected the fields of this colorlib's Config (was it written by another version?)")
    try:
        return Config(**config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its config is not valid ({error})") from None


def generator_spec(state, path):
    """The :class:`~colorlib.models.GeneratorSpec` a checkpoint's generator was saved with.

    A checkpoint written before specs were saved gives the spec of its config, with the chroma
    scale an export carried beside it; a spec that lacks fields takes them from the config
    (read and checked by :func:`checkpoint_config`).

    Raises
    ------
    CheckpointError
        Naming the file, when the spec is not a valid one.
    """
    config = checkpoint_config(state, path)
    saved = state.get("spec", {})
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: its generator spec is a {type(saved).__name__}; expected a dict")
    try:
        return GeneratorSpec(**{**GeneratorSpec.of_config(config, state.get("chroma_scale", 1.0)).asdict(), **saved})
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its generator spec is not valid ({error})") from None


def check_finite_weights(state, path):
    """Refuse a checkpoint whose generator weights are not finite: a NaN weight paints every photo
    black, and colorize would still exit 0.

    Raises
    ------
    CheckpointError
        Naming the file and the first tensor at fault.
    """
    bad = [key for key, tensor in state["generator"].items()
           if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise CheckpointError(f"{path}: its generator holds weights that are not finite ({bad[0]}, "
                              f"{len(bad)} tensors in all); expected finite weights")
    return state


_HELD_LOCKS = {}  # resolved run folder -> [open lock file, depth]: one process may nest its own locks
# The run folder whose lock a parent process holds for the processes it starts (the report's kernels).
RUN_LOCK_ENV = "COLORLIB_RUN_LOCK"


@contextlib.contextmanager
def run_lock(run_dir, children=False):
    """Hold ``<run_dir>/.lock`` while training writes into the run folder; refuse a second process.

    Two processes writing one run folder (two ``make all``, two notebooks) would interleave
    their checkpoints; the second is stopped before it writes anything. The lock is an
    ``fcntl.flock``, released by the system when a process dies, so a crash never leaves the
    folder locked. Nested calls in one process share the lock. The lock file is never opened
    through a link.

    Parameters
    ----------
    run_dir : path-like
    children : bool
        Let the processes this one starts while it holds the lock (the report's notebook kernels)
        work in the folder under it: they inherit :data:`RUN_LOCK_ENV` naming the folder, and
        their own ``run_lock`` finds it held for them.

    Raises
    ------
    RuntimeError
        "run folder X is in use by another process (pid N)", or the lock file is a link.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): run unlocked
        yield
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = str(run_dir.resolve())
    if key in _HELD_LOCKS:
        _HELD_LOCKS[key][1] += 1
        try:
            yield
        finally:
            _HELD_LOCKS[key][1] -= 1
        return
    file = open_lock_file(run_dir / ".lock")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        pid = file.read().strip() or "unknown"
        file.close()
        if os.environ.get(RUN_LOCK_ENV) == key:  # the process that started this one holds it for it
            yield
            return
        raise RuntimeError(f"run folder {run_dir} is in use by another process (pid {pid}); "
                           "wait for it to finish, or use another run folder") from None
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()}\n")
    file.flush()
    _HELD_LOCKS[key] = [file, 1]
    inherited = os.environ.get(RUN_LOCK_ENV)
    if children:
        os.environ[RUN_LOCK_ENV] = key
    try:
        yield
    finally:
        if children and inherited is None:
            del os.environ[RUN_LOCK_ENV]
        elif children:
            os.environ[RUN_LOCK_ENV] = inherited
        _HELD_LOCKS[key][1] -= 1
        if _HELD_LOCKS[key][1] == 0:
            del _HELD_LOCKS[key]
            fcntl.flock(file, fcntl.LOCK_UN)
            file.close()


def open_lock_file(path):
    """The lock file opened for reading and writing, made if missing; a link there is refused, never followed."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as error:
        if os.path.islink(path):
            raise RuntimeError(f"the run lock {path} is a link; it is never written through one: remove it") from None
        raise
    return os.fdopen(fd, "r+")


def load_generator(checkpoint, device="cpu"):
    """Rebuild a generator from a checkpoint's spec and weights.

    Returns
    -------
    generator : nn.Module
    spec : GeneratorSpec
        What it was trained at and the chroma scale an export carries
        (:func:`colorlib.predict.predict_ab` takes it).
    state : dict
        The checkpoint.
    """
    state = check_finite_weights(load_checkpoint(checkpoint, require=("generator", "config")), checkpoint)
    spec = generator_spec(state, checkpoint)
    generator = spec.build()
    try:
        generator.load_state_dict(state["generator"])
    except RuntimeError as error:  # missing or unexpected keys, wrong shapes
        raise CheckpointError(f"{checkpoint}: its generator does not fit the network its spec describes "
                              f"({str(error)[:300]})") from None
    return generator.to(device), spec, state


def holds_run_folder(stage):
    """Run a stage holding its run folder's lock (:func:`colorlib.checkpoints.run_lock`), in the main process.

    Under torchrun only the main process writes, so it alone locks; the others follow it.
    """
    parameters = inspect.signature(stage)

    @functools.wraps(stage)
    def locked_stage(*args, **kwargs):
        run_dir = parameters.bind(*args, **kwargs).arguments["run_dir"]
        if int(os.environ.get("RANK", "0")) != 0:
            return stage(*args, **kwargs)
        with run_lock(run_dir):
            return stage(*args, **kwargs)

    return locked_stage
