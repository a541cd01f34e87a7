"""make bench's pieces on tiny inputs: they run, and they report what they claim."""
import tempfile

import pytest
import torch

from colorlib.bench import (
    bench_colorize,
    bench_data,
    bench_decoders,
    format_results,
    generated_photo,
    quality_check,
    repeated,
    source_photos,
    timed_apart,
)
from colorlib.cache import LabCache


def test_data_bench_runs_on_the_package_photos():
    results = bench_data("samples", size=32, n_images=8, batch_size=16)
    assert results["photos"] == 8  # fewer photos than a batch: the list repeats
    assert results["plain_images_per_s"] > 0 and results["cache_second_epoch_images_per_s"] > 0
    assert results["second_over_first"] == results["cache_second_epoch_images_per_s"] / results[
        "cache_first_epoch_images_per_s"]


@pytest.mark.slow
def test_quality_check_trains_both_paths_on_the_same_batches():
    torch.manual_seed(0)
    lab = torch.rand(4, 3, 32, 32) * 2 - 1
    batches = [{"L": lab[:2, :1], "ab": lab[:2, 1:] * 0.2}, {"L": lab[2:, :1], "ab": lab[2:, 1:] * 0.2}]
    result = quality_check(batches, lab, 32)
    assert result["val_l1_plain"] != result["val_l1_untrained"]  # both really trained
    assert result["val_l1_colorlib"] != result["val_l1_untrained"]
    assert result["passed"] == (result["relative_gap"] <= 0.05)


def test_helpers():
    assert repeated(["a", "b"], 5) == ["a", "b", "a", "b", "a"]
    assert format_results({"gan": {"ratio": 3.0, "passed": True}}).splitlines() == [
        "gan:", f"  {'ratio':<34} 3.000", f"  {'passed':<34} True"]


@pytest.mark.slow
def test_each_configuration_is_timed_in_its_own_process():
    photos = repeated(source_photos("samples"), 4)
    with tempfile.TemporaryDirectory() as cache_dir:
        LabCache(32, cache_dir).stack(photos)
        rates = [timed_apart("pretrain", fast, photos, 32, 2, 1, cache_dir) for fast in (False, True)]
    assert all(rate > 0 for rate in rates)


@pytest.mark.slow
def test_colorize_bench_reports_speed_and_memory_of_its_own_photo():
    results = bench_colorize(width=96, height=64, size=32)
    assert results["megapixels"] == 96 * 64 / 1e6
    assert results["megapixels_per_s"] == results["megapixels"] / results["seconds"]
    assert results["bytes_per_pixel"] == results["peak_above_model_bytes"] / (96 * 64)
    assert results["process_peak_bytes"] > results["peak_above_model_bytes"] >= 0
    assert generated_photo(96, 64).size == (96, 64)


def test_decoder_bench_counts_the_lean_head_cheaper():
    results = bench_decoders(size=32, batch_size=2, steps=1)
    lean, unet = results["lean"], results["unet"]
    assert 0 < lean["forward_gflop_per_photo"] < unet["forward_gflop_per_photo"]
    assert lean["parameters"] < unet["parameters"]
    assert results["lean_speedup"] == lean["pretrain_images_per_s"] / unet["pretrain_images_per_s"]
