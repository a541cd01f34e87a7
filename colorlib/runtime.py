"""Where and how computation runs: seeding and the random-number state, device choice and mixed precision."""
import contextlib
import ctypes
import ctypes.util
import platform
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed):
    """Seed python, numpy and torch, and ask torch for deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    use_deterministic_algorithms()


def use_deterministic_algorithms():
    """Ask torch for deterministic algorithms, warning where an operation has none.

    ``torch.use_deterministic_algorithms`` also sets the flag of torch's compiler, importing it
    (3.5 s of each notebook kernel's start on two cores) when it has not been imported yet;
    colorlib never compiles, so torch's own flag alone is set until something imports it.
    """
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if "torch._inductor" in sys.modules or set_flag is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        set_flag(True, warn_only=True)


def pick_device(device="auto", local_rank=0):
    """Return a torch.device: cuda, then mps, then cpu for ``"auto"``; else the one named.

    Under torchrun each process takes the GPU of its ``local_rank``.
    """
    if device == "cuda":
        return torch.device("cuda", local_rank)
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# glibc's mallopt parameters (malloc.h) and the largest mmap threshold it accepts on 64-bit systems.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024


def keep_freed_memory(trim_threshold=1 << 30, top_pad=1 << 28):
    """Ask the C library's allocator to keep freed memory for reuse rather than hand it back.

    A training step allocates and frees the same large activation buffers every time. By
    default glibc serves big blocks with fresh ``mmap`` calls and unmaps them when freed, so
    every step faults in and zeroes those pages again: a 43-minute cpu run counted about a
    hundred million page faults. Raising the mmap threshold to its maximum and letting the
    heap keep up to ``trim_threshold`` bytes of free memory makes the pages stay mapped
    (``make bench`` measures the gain). Process-wide; a no-op where the C library is not glibc.

    Returns
    -------
    bool
        True when the allocator accepted the settings.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without mallopt)
        return False
    return all(mallopt(parameter, value) == 1 for parameter, value in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (_M_TRIM_THRESHOLD, trim_threshold), (_M_TOP_PAD, top_pad)))


def cpu_bf16_instructions(cpu_flags=None):
    """The bf16 matrix instructions this CPU has: ``"amx_bf16"``, ``"avx512_bf16"`` or None.

    AMX's tile units multiply bf16 matrices several times faster than AVX-512 BF16 does; torch's
    oneDNN kernels use the best one present (torch reports both as the "AVX512" capability).
    ``cpu_flags`` is the text of ``/proc/cpuinfo``, read when not given.
    """
    if torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AVX512_BF16", "AMX"):
        return None
    if cpu_flags is None:
        try:
            with open("/proc/cpuinfo") as cpuinfo:
                cpu_flags = cpuinfo.read()
        except OSError:
            return None
    flags = set(cpu_flags.split())
    return next((name for name in ("amx_bf16", "avx512_bf16") if name in flags), None)


def cpu_supports_bf16():
    """True when this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX)."""
    return cpu_bf16_instructions() is not None


def resolve_precision(precision, device):
    """Turn ``"auto"`` into ``"bf16"`` where the device runs it fast, else ``"fp32"``."""
    if precision not in ("auto", "bf16", "fp16", "fp32"):
        raise ValueError(f"precision must be auto, bf16, fp16 or fp32, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs a CUDA device; use bf16 or fp32 here")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        # Without native bf16 (before Ampere) fp16 with loss scaling is the fast choice.
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_supports_bf16() else "fp32"
    return "fp32"


def cpu_features():
    """What this CPU is and what its kernels can use: ``cpu_model`` (:func:`cpu_model`),
    ``cpu_capability``, torch's widest vector instructions (``torch.backends.cpu.get_cpu_capability()``:
    "AVX2", "AVX512", ...), and ``cpu_bf16`` (:func:`cpu_bf16_instructions`). Training speed depends on
    them (bf16 pays only with the latter), and so do the last digits of a run's numbers: the kernels
    torch picks differ from one kind of CPU to another.
    """
    return {"cpu_model": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_bf16": cpu_bf16_instructions()}


def cpu_model():
    """The CPU's marketing name ("AMD EPYC 9R14 ..."), or the machine's architecture where it cannot be read.

    Linux names it in /proc/cpuinfo and macOS through sysctl; ``platform.processor()`` is often
    empty or only "x86_64".
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5).stdout.strip() or platform.machine()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def compute_description(device):
    """What a device offers for training and what ``precision="auto"`` picks on it, as plain data.

    colorlib's speed against plain fp32 depends most on this: bf16 pays only with native bf16
    instructions (AMX most), so ``make bench``'s ratios mean little without it beside them.

    Returns
    -------
    dict
        ``device``, the :func:`cpu_features` and ``auto_precision``.
    """
    return {"device": str(device), **cpu_features(), "auto_precision": resolve_precision("auto", device)}


def autocast(device, precision):
    """A context that runs the forward pass in bf16 or fp16 when asked; weights stay fp32."""
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


def rng_state():
    """Python, numpy and torch RNG states as plain data (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss]
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    random.setstate(_as_tuples(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value):
    # random.setstate wants the nested tuples that getstate gave; a checkpoint may hold lists.
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
