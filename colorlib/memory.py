"""The memory a run needs, checked before it starts, and the peak a process reached.

A training process holds every photo of its split as 8-bit Lab, 3 bytes a pixel
(:meth:`colorlib.cache.LabCache.stack`), beside the interpreter, the libraries, the networks,
their optimisers and one batch's activations. :func:`check_run_memory` sets that against the
memory the machine has (or ``config.max_memory``) before any photo is loaded, and names the
overrides that make the run fit, as ``colorize --max-memory`` does for a photo.
"""
import math
import resource

from colorlib.images import available_memory

# Measured (peak resident memory on two cores, batches of 16): the library alone takes 1.10 GB
# once the generator is loaded and 1.67 GB pretraining the cpu recipe at 128 px (decoder stopped
# at a quarter of the side); the full U-Net took 2.08 GB at 128 px and 1.40 GB at 64 px, 3.5 KB
# per pixel of a batch. Notebook 03 of the cpu report peaked at 3.35 GB with its 10,793 photos
# (0.53 GB): 2.8 GB besides them, for the copies its plain training step makes, the validation
# photos it scores and its figures. The base is set so that the estimate covers that run.
BASE_BYTES = 1.8e9
BATCH_PIXEL_BYTES = 4e3
PHOTO_PIXEL_BYTES = 3  # 8-bit L*, a*, b*


class NotEnoughMemory(RuntimeError):
    """A run needs more memory than it may use; the message says how much and which overrides fit."""


def photo_bytes(n_photos, photo_size):
    """Bytes of n_photos photos held at photo_size x photo_size as 8-bit Lab."""
    return n_photos * PHOTO_PIXEL_BYTES * photo_size**2


def training_bytes(config):
    """Bytes a training process takes besides its photos: libraries, networks, optimisers, one batch."""
    return BASE_BYTES + BATCH_PIXEL_BYTES * config.batch_size * config.size**2


def run_memory(n_photos, config):
    """Bytes a training process of ``config`` needs to hold n_photos photos and train on them (an estimate)."""
    return training_bytes(config) + photo_bytes(n_photos, config.photo_size)


def memory_limit(config):
    """Bytes a run may use: ``config.max_memory`` GB, else what the machine has available now.

    What is available counts this process's own memory too: what it holds (the libraries, a
    generator) is part of what the run needs. None when the machine does not say (no check then).
    """
    if config.max_memory:
        return config.max_memory * 1e9
    available = available_memory()
    return None if available is None else available + resident_bytes()


def check_run_memory(n_train, n_val, config, limit=None, log=print):
    """Refuse a run whose photos and training would not fit, before any photo is loaded.

    Parameters
    ----------
    n_train, n_val : int
        Training and validation photos the run holds.
    config : Config
    limit : float, optional
        Bytes allowed; :func:`memory_limit` when None.

    Raises
    ------
    NotEnoughMemory
        Naming the memory needed against the limit, and the overrides that fit: fewer photos
        (``n_images``) or smaller ones (``load_size``).
    """
    limit = memory_limit(config) if limit is None else limit
    if limit is None:
        return
    n_photos = n_train + n_val
    need = run_memory(n_photos, config)
    where = f"allowed (max_memory={config.max_memory:g})" if config.max_memory else "available on this machine now"
    if need <= limit:
        # What the machine has free is left out: it differs from machine to machine, and says nothing of the run.
        log(f"memory: about {need / 1e9:.1f} GB needed for {n_photos:,} photos at {config.photo_size} px, "
            f"within what is {where}")
        return
    raise NotEnoughMemory(
        f"this run needs about {need / 1e9:.1f} GB ({n_photos:,} photos at {config.photo_size} px take "
        f"{photo_bytes(n_photos, config.photo_size) / 1e9:.1f} GB as 8-bit Lab, training about "
        f"{training_bytes(config) / 1e9:.1f} GB), but {limit / 1e9:.1f} GB is {where}. "
        + fitting_overrides(n_photos, n_val, config, limit))


def fitting_overrides(n_photos, n_val, config, limit):
    """The overrides that bring a run of n_photos photos (n_val of them validation) within ``limit`` bytes."""
    room = limit - training_bytes(config)
    fixes = []
    # n_images bounds the training side, extra photos included; the validation photos come on top.
    n_images = math.floor(room / photo_bytes(1, config.photo_size)) - n_val
    if n_images >= config.batch_size:
        fixes.append(f'OVERRIDES="n_images={n_images}" (fewer photos)')
    if room > 0:
        load_size = math.isqrt(int(room / (PHOTO_PIXEL_BYTES * n_photos))) // 16 * 16
        if config.size <= load_size < config.photo_size:
            fixes.append(f'OVERRIDES="load_size={load_size}" (smaller photos, the same ones)')
    if not fixes:
        return (f"Training alone takes about {training_bytes(config) / 1e9:.1f} GB at size={config.size} in "
                f"batches of {config.batch_size}: close other programs or use a machine with more memory.")
    return "To fit, run with " + " or ".join(fixes) + ", or close other programs."


def resident_bytes(pid="self"):
    """A process's resident memory now, in bytes (Linux; this process's peak elsewhere)."""
    return status_bytes("VmRSS", pid) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_resident_bytes(pid="self"):
    """The most memory a process has held resident so far (its VmHWM), in bytes; None when the system does not say."""
    return status_bytes("VmHWM", pid)


def status_bytes(field, pid="self"):
    """A ``kB`` line of /proc/<pid>/status in bytes, or None off Linux or once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
