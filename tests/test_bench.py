"""make bench's pieces on tiny inputs: they run, and they report what they claim."""
import torch

from colorlib.bench import bench_data, format_results, quality_check, repeated
from colorlib.models import build_generator


def test_data_bench_runs_on_the_package_photos():
    results = bench_data("samples", size=32, n_images=8, batch_size=16)
    assert results["photos"] == 8  # fewer photos than a batch: the list repeats
    assert results["plain_images_per_s"] > 0 and results["cache_second_epoch_images_per_s"] > 0
    assert results["second_over_first"] == results["cache_second_epoch_images_per_s"] / results[
        "cache_first_epoch_images_per_s"]


def test_quality_check_compares_the_two_paths():
    torch.manual_seed(0)
    generator = build_generator(32, imagenet_weights="never", verbose=False)[0]
    lab = torch.rand(2, 3, 32, 32) * 2 - 1
    same = quality_check(generator, generator, generator, lab)
    assert same["passed"] and same["relative_gap"] == 0
    with torch.no_grad():
        worse = build_generator(32, imagenet_weights="never", verbose=False)[0]
        next(worse.parameters()).mul_(50)
    assert not quality_check(generator, generator, worse, lab)["passed"]


def test_helpers():
    assert repeated(["a", "b"], 5) == ["a", "b", "a", "b", "a"]
    assert format_results({"gan": {"ratio": 3.0, "passed": True}}).splitlines() == [
        "gan:", f"  {'ratio':<34} 3.000", f"  {'passed':<34} True"]
