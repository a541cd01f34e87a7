"""Benchmarks behind ``make bench``: the data path, the training steps, evaluation, and colorize.

Each compares the capstone's plain way with colorlib's, side by side in one run on the same
photos, and reports the ratio: on shared, noisy machines only ratios are worth comparing.
"""
import itertools
import multiprocessing
import os
import resource
import tempfile
import time
import timeit
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.metrics import structural_similarity
from torch import nn
from torch.utils.data import DataLoader

from colorlib.cache import LabCache
from colorlib.dataset import ColorizationDataset, LabTensorDataset, seed_worker
from colorlib.images import scan_images
from colorlib.lab import dequantise_lab
from colorlib.memory import status_bytes
from colorlib.discriminator import PatchDiscriminator
from colorlib.models import GeneratorSpec, build_generator
from colorlib.predict import predict_ab
from colorlib.runtime import compute_description, keep_freed_memory, pick_device, resolve_precision, seed_everything
from colorlib.sources import resolve_data
from colorlib.ssim import ssim_batch
from colorlib.train import to_device
from colorlib.trainers import ColorizationGAN, L1Pretrainer


def bench_machine():
    """The machine the ratios were measured on: device, CPU instructions, precision, threads.

    Every ratio here depends on it (:func:`colorlib.runtime.compute_description`), so it is
    printed first.
    """
    return {**compute_description(pick_device("auto")), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}


def source_photos(data):
    """A data source's usable photos, sorted (bad files are set aside, as in training)."""
    return sorted(scan_images(resolve_data(data, download=False).paths).kept)


def repeated(paths, n):
    """n paths, repeating the list when it holds fewer."""
    return list(itertools.islice(itertools.cycle(paths), n))


def endless(loader):
    """Batches from a loader, epoch after epoch: every batch is really loaded (no replay)."""
    while True:
        yield from loader


def plain_loader(paths, size, batch_size, workers=2):
    """The capstone's data path: PIL + scikit-image per photo, in a DataLoader with workers."""
    return DataLoader(ColorizationDataset(paths, "train", size), batch_size=batch_size, shuffle=True,
                      num_workers=workers, worker_init_fn=seed_worker, drop_last=True,
                      generator=torch.Generator().manual_seed(0))


def cached_loader(paths, size, batch_size, cache_dir):
    """colorlib's data path: Lab tensors decoded once, indexed and flipped in memory."""
    dataset = LabTensorDataset(LabCache(size, cache_dir).stack(paths), "train")
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(0))


def images_per_second(loader, batches):
    """Time drawing some batches from a loader (cycling it); returns images per second."""
    start, seen = time.perf_counter(), 0
    for batch in itertools.islice(endless(loader), batches):
        seen += len(batch["L"])
    return seen / (time.perf_counter() - start)


def bench_data(data="samples", size=128, n_images=128, batch_size=16):
    """Images/s of the plain data path, and of the cache's first (cold) and second epochs."""
    paths = source_photos(data)[:n_images]
    paths = repeated(paths, max(len(paths), batch_size))  # a source smaller than one batch repeats
    batches = len(paths) // batch_size
    plain = images_per_second(plain_loader(paths, size, batch_size), batches)
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        loader = cached_loader(paths, size, batch_size, cache_dir)  # decodes every photo once
        images_per_second(loader, batches)  # the first epoch: decoding, then one pass
        first = batches * batch_size / (time.perf_counter() - start)
        second = images_per_second(loader, batches)
    return {"plain_images_per_s": plain, "cache_first_epoch_images_per_s": first,
            "cache_second_epoch_images_per_s": second, "second_over_first": second / first,
            "photos": len(set(paths)),
            "second_over_plain": second / plain}


def training_setup(kind, fast, size, seed=0):
    """A freshly seeded trainer: the plain fp32 / NCHW configuration, or colorlib's default.

    colorlib's default also keeps freed memory mapped (:func:`colorlib.runtime.keep_freed_memory`),
    which :func:`timed_apart` switches on in the process that times it.
    """
    device = pick_device("auto")
    precision = resolve_precision("auto", device) if fast else "fp32"
    seed_everything(seed)
    generator = build_generator(size, imagenet_weights="never", verbose=False)[0].to(device)
    memory_format = torch.channels_last if fast else torch.contiguous_format
    generator = generator.to(memory_format=memory_format)
    if kind == "pretrain":
        return L1Pretrainer(generator, 1e-4, precision), device, precision
    discriminator = PatchDiscriminator().to(device).to(memory_format=memory_format)
    return ColorizationGAN(generator, discriminator, precision=precision), device, precision


def time_steps(kind, fast, loader, steps, warmup=3, size=128):
    """Images/s of training steps, end to end including the data."""
    trainer, device, _ = training_setup(kind, fast, size)
    batches = endless(loader)
    for batch in itertools.islice(batches, warmup):
        trainer.train_step(*to_device(batch, device, fast))
    start, seen = time.perf_counter(), 0
    for batch in itertools.islice(batches, steps):
        trainer.train_step(*to_device(batch, device, fast))
        seen += len(batch["L"])
    return seen / (time.perf_counter() - start)


def timed_apart(kind, fast, paths, size, batch_size, steps, cache_dir):
    """Images/s of one configuration's training steps, timed in a fresh Python process.

    Each configuration starts from a clean process, so neither inherits the other's memory
    (heap, allocator settings, caches): colorlib's sets :func:`colorlib.runtime.keep_freed_memory`
    as :func:`colorlib.train.fit` does, the plain one keeps the C library's defaults.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_time_configuration, kind, fast, paths, size, batch_size, steps, cache_dir).result()


def _time_configuration(kind, fast, paths, size, batch_size, steps, cache_dir):
    if fast:
        keep_freed_memory()
        loader = cached_loader(paths, size, batch_size, cache_dir)
    else:
        loader = plain_loader(paths, size, batch_size)
    return time_steps(kind, fast, loader, steps, size=size)


@torch.no_grad()
def validation_l1(generator, lab):
    """Mean L1 of ab predicted in fp32 for a stack of Lab tensors."""
    return float(nn.functional.l1_loss(predict_ab(generator, lab[:, :1], "fp32"), lab[:, 1:]))


def bench_training(data="samples", size=128, batch_size=16, steps=6, n_images=64, quality_steps=12):
    """Images/s of pretraining and GAN steps, plain vs colorlib, and the quality check.

    The quality check pretrains both configurations for ``quality_steps`` from the same weights
    on the very same batches (same photos, flips and order) and compares their validation L1
    (fp32 evaluation): only precision and memory layout differ.
    """
    photos = source_photos(data)
    # Hold out 8 photos for the quality check when the source has enough; the package photos do not.
    held_out = len(photos) >= 2 * 8 + batch_size
    val_paths = photos[-8:]
    paths = repeated(photos[:-8] if held_out else photos, n_images)
    results = {}
    with tempfile.TemporaryDirectory() as cache_dir:
        fast_loader = cached_loader(paths, size, batch_size, cache_dir)  # fills the cache
        val = dequantise_lab(LabCache(size, cache_dir).stack(val_paths))
        for kind in ("pretrain", "gan"):
            plain_rate, fast_rate = (timed_apart(kind, fast, paths, size, batch_size, steps, cache_dir)
                                     for fast in (False, True))
            results[kind] = {"plain_images_per_s": plain_rate, "colorlib_images_per_s": fast_rate,
                             "ratio": fast_rate / plain_rate}
        batches = list(itertools.islice(endless(fast_loader), quality_steps))
        results["quality"] = quality_check(batches, val, size)
        results["quality"]["held_out_photos"] = held_out
    return results


def quality_check(batches, val, size, tolerance=0.05):
    """Validation L1 before training and after pretraining on the same batches each way; within 5%?

    Parameters
    ----------
    batches : list of {"L", "ab"} batches
        What both configurations train on, in this order.
    val : Tensor, shape (N, 3, size, size)
        Lab tensors of validation photos.
    size : int
    tolerance : float
        Largest relative gap of colorlib's validation L1 from the plain configuration's.
    """
    untrained = training_setup("pretrain", False, size)[0].generator
    before = validation_l1(untrained, val)
    trained = []
    for fast in (False, True):
        trainer, device, _ = training_setup("pretrain", fast, size)
        for batch in batches:
            trainer.train_step(*to_device(batch, device, fast))
        trained.append(trainer.generator)
    plain_l1, fast_l1 = (validation_l1(g, val) for g in trained)
    return {"val_l1_untrained": before, "val_l1_plain": plain_l1, "val_l1_colorlib": fast_l1,
            "relative_gap": abs(fast_l1 - plain_l1) / plain_l1,
            "passed": abs(fast_l1 - plain_l1) <= tolerance * plain_l1}


def bench_decoders(size=128, batch_size=16, steps=4, seed=0):
    """FLOPs a photo and training images a second of the two decoders on the cpu recipe's generator.

    The cpu recipe's generator (EfficientNet-Lite0, classification over bins, colour at a quarter
    of the side, encoder batch norms frozen) with fastai's DynamicUnet decoder, then with the lean
    head of :mod:`colorlib.heads`, timed one after the other on the same random batch.

    Returns
    -------
    dict
        Per decoder: ``parameters``, ``forward_gflop_per_photo`` (counted by
        ``torch.utils.flop_counter``) and ``pretrain_images_per_s``; and ``lean_speedup``, the
        ratio of the two speeds measured side by side.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from colorlib.models import encoder_of

    results = {}
    for decoder in ("unet", "lean"):
        seed_everything(seed)
        spec = GeneratorSpec(size, "efficientnet_lite0", "classification", freeze_encoder_bn=True, output_stride=4,
                             decoder=decoder)
        generator = spec.build().to(memory_format=torch.channels_last)
        L = torch.randn(batch_size, 1, size, size).contiguous(memory_format=torch.channels_last)
        ab = torch.rand(batch_size, 2, size, size) * 0.4 - 0.2
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            generator.eval()(L[:1])
        generator.train()
        trainer = L1Pretrainer(generator, 1e-3, loss="classification", encoder=encoder_of(generator), encoder_lr=1e-4)
        trainer.train_step(L, ab)  # first-call set-up, not timed
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(L, ab)
        results[decoder] = {"parameters": sum(p.numel() for p in generator.parameters()),
                            "forward_gflop_per_photo": counter.get_total_flops() / 1e9,
                            "pretrain_images_per_s": steps * batch_size / (time.perf_counter() - start)}
    results["lean_speedup"] = results["lean"]["pretrain_images_per_s"] / results["unet"]["pretrain_images_per_s"]
    return results


def bench_colorize(width=6000, height=4000, size=64, encoder="efficientnet_lite0"):
    """Megapixels per second and memory of colorizing one large photo at full resolution.

    The photo is generated here (smooth colour plus grain, saved as a JPEG) and colorized in a
    fresh process with a randomly initialised generator of the cpu profile's kind, so that the
    peak is colorize's own: its resident memory above what the loaded generator already held.

    Parameters
    ----------
    width, height : int
        The photo's size (default: a 24-megapixel camera photo).
    size : int
        The generator's square.
    encoder : str
        See :func:`colorlib.models.build_generator`.

    Returns
    -------
    dict
        ``megapixels``, ``seconds``, ``megapixels_per_s``, ``peak_above_model_bytes``,
        ``bytes_per_pixel`` (that peak per pixel of the photo) and ``process_peak_bytes``.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        generated_photo(width, height).save(path, quality=90)
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            seconds, peak, process_peak = pool.submit(_colorize_apart, str(path), size, encoder).result()
    pixels = width * height
    return {"megapixels": pixels / 1e6, "seconds": seconds, "megapixels_per_s": pixels / 1e6 / seconds,
            "peak_above_model_bytes": peak, "bytes_per_pixel": peak / pixels, "process_peak_bytes": process_peak}


def generated_photo(width, height, seed=0):
    """A width x height RGB photo: smooth random colour (a 45 x 30 grid blown up) plus grain."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (30, 45, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC)).astype(np.int16)
    smooth += rng.integers(-20, 21, (height, width, 1), dtype=np.int16)
    return Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8))


def _colorize_apart(path, size, encoder):
    from colorlib.colorizer import colorize

    seed_everything(0)
    spec = GeneratorSpec(size, encoder)
    generator = spec.build().eval()
    colorize(np.zeros((size, size, 3), np.uint8), generator, spec)  # first-call set-up, not the photo's
    before = resident_bytes()
    reset_peak_memory()
    start = time.perf_counter()
    colorize(path, generator, spec)
    seconds = time.perf_counter() - start
    return seconds, peak_resident_bytes() - before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def resident_bytes():
    """This process's resident memory now (the peak so far where the system does not say)."""
    return status_bytes("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_memory():
    """Restart the peak resident memory from now (Linux: clear_refs 5), so that a peak measures one step."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:  # elsewhere the peak stays the process's; the step is then measured high, never low
        pass


def peak_resident_bytes():
    """The peak resident memory since :func:`reset_peak_memory` (or since the process started)."""
    return status_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def format_results(results):
    """The benchmark's results as aligned text lines."""
    lines = []
    for section, values in results.items():
        lines.append(f"{section}:")
        for name, value in values.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            lines.append(f"  {name:<34} {shown}")
    return "\n".join(lines)


def bench_ssim(n_images=64, size=128, seed=0):
    """Time :func:`ssim_batch` against scikit-image image by image, on the same random images.

    Both score the capstone's SSIM (RGB, ``data_range = fake.max() - fake.min()``) of the
    same float64 images; each time is the best of three runs.

    Parameters
    ----------
    n_images, size : int
        How many size x size RGB images.
    seed : int

    Returns
    -------
    dict
        ``n_images``, ``size``, ``skimage_s`` and ``torch_s`` (seconds), ``speedup``
        (skimage_s / torch_s) and ``max_abs_difference`` between the two sets of scores.
    """
    rng = np.random.default_rng(seed)
    fake = rng.uniform(0.0, 1.0, (n_images, size, size, 3))
    real = np.clip(fake + rng.normal(0.0, 0.1, fake.shape), 0.0, 1.0)
    data_range = fake.max(axis=(1, 2, 3)) - fake.min(axis=(1, 2, 3))

    def per_image():
        pairs = zip(fake, real, data_range)
        return [structural_similarity(f, r, data_range=d, channel_axis=2) for f, r, d in pairs]

    def batched():
        fake_chw, real_chw = (torch.from_numpy(rgb).permute(0, 3, 1, 2) for rgb in (fake, real))
        return ssim_batch(fake_chw, real_chw, torch.from_numpy(data_range))

    skimage_s = min(timeit.repeat(per_image, number=1, repeat=3))
    torch_s = min(timeit.repeat(batched, number=1, repeat=3))
    return {
        "n_images": n_images,
        "size": size,
        "skimage_s": skimage_s,
        "torch_s": torch_s,
        "speedup": skimage_s / torch_s,
        "max_abs_difference": float(np.max(np.abs(batched().numpy() - per_image()))),
    }
