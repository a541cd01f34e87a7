"""Every run bounded and in a folder of its own: the cpu profile's work, run folder names."""
import argparse
import os
import re

import numpy as np
import pytest
from PIL import Image

from colorlib import cli, splits, stages
from colorlib.config import PROFILES, get_config
from colorlib.report import notebook_parameters

# The committed cpu report pretrained on 11,692 photos for two epochs, and the GAN on 8,000:
# its profile's budget must hold that run and bound every other.
COMMITTED_CPU_WORK = 2 * 11_692 + 8_000


def tiny_photos(folder, n, seed):
    """n distinct colourful 8 x 8 PNGs: enough for a split, cheap to write and check."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    return tiny_photos(root / "main", 1_000, 0), tiny_photos(root / "extra", 4_000, 1)


@pytest.mark.slow  # splits 5,000 photos, as notebook 01 does
def test_the_cpu_profile_bounds_its_training_over_5000_photos(photos, tmp_path):
    main, extra = photos
    budget = splits.work_budget(PROFILES["cpu"])
    assert budget is not None and COMMITTED_CPU_WORK <= budget <= 1.1 * COMMITTED_CPU_WORK  # 12,000 photos at most
    # Photos at 8 px stand in for real ones: the split and its planned work do not depend on the size.
    config = get_config("cpu", data=str(main), extra_train_data=str(extra), size=8, load_size=0)
    split = stages.make_split(config, tmp_path, log=lambda line: None)
    assert len(split.train) + len(split.val) == 5_000
    assert splits.training_work(split, config)["total"] <= budget


@pytest.mark.slow  # splits 5,000 photos, as notebook 01 does
def test_n_images_bounds_the_training_side_extra_photos_included(photos, tmp_path):
    main, extra = photos
    config = get_config("cpu", data=str(main), extra_train_data=str(extra), size=8, load_size=0, n_images=2_000)
    lines = []
    split = stages.make_split(config, tmp_path, log=lines.append)
    assert len(split.val) == 250 and len(split.train) == 2_000  # 750 of the main source, 1,250 extra drawn
    assert sum(str(main) in path for path in split.train) == 750
    assert splits.training_work(split, config)["total"] <= splits.work_budget(config)
    assert any("1250 drawn at random" in line for line in lines)
    extra_paths = [f"{i}.png" for i in range(10)]
    assert splits.draw_extra(extra_paths, 4, 98) == splits.draw_extra(extra_paths, 4, 98)  # seeded, in order
    assert splits.draw_extra(extra_paths, None, 98) == extra_paths == splits.draw_extra(extra_paths, 10, 98)


@pytest.mark.slow  # splits 5,000 photos, as notebook 01 does
def test_a_source_smaller_than_n_images_gives_all_its_photos(photos, tmp_path):
    config = get_config("cpu", data=str(photos[0]), size=8, load_size=0)
    split = stages.make_split(config, tmp_path, log=lambda line: None)
    assert (len(split.train), len(split.val)) == (750, 250)


def test_each_distinct_run_gets_its_own_folder():
    smoke = get_config("smoke")
    assert stages.run_name(smoke) == "smoke"
    assert stages.run_name(get_config("smoke", gan_epochs=5, resume=False, progress=True)) == "smoke"  # same run
    other_data = stages.run_name(get_config("smoke", data="../shared/data/coco"))
    other_size = stages.run_name(get_config("smoke", size=96))
    assert re.fullmatch(r"smoke-[0-9a-f]{8}", other_data) and other_data != other_size
    assert other_data == stages.run_name(get_config("smoke", data="../shared/data/coco"))  # the same line, the same
    assert stages.run_name(get_config("cpu")) == "cpu"


def test_the_command_line_puts_a_run_with_other_data_in_another_folder(monkeypatch, capsys):
    monkeypatch.delenv("COLORLIB_RUNS", raising=False)

    def run_dir(**given):
        args = argparse.Namespace(**{"profile": "smoke", "data": "", "overrides": "", "run_dir": None, **given})
        return cli.default_run_dir(args)

    assert run_dir() == os.path.join("runs", "smoke")
    assert run_dir(data="../shared/data/coco") == os.path.join("runs", stages.run_name(
        get_config("smoke", data="../shared/data/coco")))
    assert run_dir(overrides="size=96") != run_dir() and run_dir(run_dir="mine") == "mine"
    assert "run folder: runs/smoke" in capsys.readouterr().err
    # The report records the folder relative to the notebooks: no machine paths.
    assert notebook_parameters("smoke", run_dir(data="x"), None, "notebooks")["run_dir"] == os.path.join(
        "..", run_dir(data="x"))
