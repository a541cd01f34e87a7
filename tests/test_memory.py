import pytest

from colorlib import memory, stages
from colorlib.config import get_config
from colorlib.memory import NotEnoughMemory, check_run_memory, run_memory
from conftest import colour_photo


def test_the_report_run_at_256_px_is_refused_on_4_gb_with_overrides_that_fit():
    config = get_config("cpu", load_size=256)
    with pytest.raises(NotEnoughMemory) as refused:
        check_run_memory(10_598, 195, config, limit=4e9)
    message = str(refused.value)
    assert "needs about 5.0 GB (10,793 photos at 256 px take 2.1 GB as 8-bit Lab" in message
    assert "but 4.0 GB is available on this machine now" in message
    n_images = int(message.split("n_images=")[1].split('"')[0])
    load_size = int(message.split("load_size=")[1].split('"')[0])
    assert 5000 < n_images < 10_598 and 64 <= load_size < 256
    assert run_memory(n_images + 195, config) <= 4e9 < run_memory(n_images + 196 + 16, config)
    check_run_memory(10_598, 195, config.replace(load_size=load_size), limit=4e9, log=lambda line: None)


def test_a_run_that_cannot_fit_max_memory_says_so_before_any_training(tmp_path):
    for seed in range(8):
        colour_photo(seed=seed).save(tmp_path / f"p{seed}.png")
    config = get_config("smoke", data=str(tmp_path), n_images=0, size=32, cache_dir=str(tmp_path / "cache"))
    config = config.replace(max_memory=run_memory(7, config) / 1e9)  # room for 7 photos of the 8
    with pytest.raises(NotEnoughMemory, match=r"this run needs about .* GB \(8 photos at 32 px .* but .* GB is "
                                              r"allowed \(max_memory=.*\)\. To fit, run with OVERRIDES=\"n_images="):
        stages.train_everything(config, tmp_path / "run", log=lambda line: None)
    assert not (tmp_path / "run" / "split.json").exists() and not (tmp_path / "cache").exists()


def test_training_alone_past_the_limit_names_no_override():
    with pytest.raises(NotEnoughMemory, match="Training alone takes about 2.8 GB .* a machine with more memory"):
        check_run_memory(10, 2, get_config("cpu"), limit=1e9)


def test_a_process_peak_is_read_from_the_system():
    assert memory.peak_resident_bytes() >= memory.resident_bytes() > 1e7
