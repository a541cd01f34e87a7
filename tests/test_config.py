"""Profiles as data: overrides, their parsing, and the values a run refuses."""
import pytest

from colorlib.config import PROFILES, get_config, parse_overrides


def test_overrides_are_typed_and_applied():
    overrides = parse_overrides("size=96 crop_scale=0.5 channels_last=false pretrain_schedule=one_cycle")
    assert overrides == {"size": 96, "crop_scale": 0.5, "channels_last": False, "pretrain_schedule": "one_cycle"}
    config = get_config("cpu", **overrides)
    assert (config.size, config.load_size, config.photo_size) == (96, 128, 128)


def test_photo_size_defaults_to_the_training_size():
    assert get_config("smoke").photo_size == get_config("smoke").size == 64


@pytest.mark.parametrize("text, message", [
    ("size", "not of the form field=value"),
    ("colour=1", "unknown config field 'colour'"),
    ("size=big", "size must be int, got 'big'"),
    ("progress=maybe", "progress must be true or false"),
])
def test_bad_overrides_are_refused_by_name(text, message):
    with pytest.raises(ValueError, match=message):
        parse_overrides(text)


@pytest.mark.parametrize("changes, message", [
    ({"crop_scale": 0.0}, r"crop_scale must lie in \(0, 1\]"),
    ({"load_size": 32}, r"load_size \(32\) must be 0 or at least size \(64\)"),
    ({"pretrain_schedule": "cosine"}, "pretrain_schedule must be 'constant' or 'one_cycle'"),
])
def test_impossible_values_are_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        get_config("smoke", **changes)


def test_paper_profile_is_the_capstone():
    paper = PROFILES["paper"]
    assert (paper.n_images, paper.val_fraction, paper.seed, paper.size, paper.batch_size) == (12_000, 0.25, 98, 256, 16)
    assert (paper.pretrain_epochs, paper.pretrain_lr, paper.pretrain_schedule) == (30, 1e-4, "constant")
    assert (paper.gan_epochs, paper.gan_lr, paper.beta1, paper.lambda_l1) == (70, 2e-4, 0.5, 100.0)
    assert paper.photo_size == 256 and paper.crop_scale == 1.0


def test_gan_cross_entropy_needs_a_classification_head():
    with pytest.raises(ValueError, match="needs head='classification'"):
        get_config("smoke", gan_reconstruction="cross_entropy")
    assert get_config("smoke", head="classification", gan_reconstruction="cross_entropy").lambda_cross_entropy == 1.0


@pytest.mark.parametrize("changes, message", [
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"size": -5}, "size must be a positive integer, got -5"),
    ({"micro_batches": 0}, "micro_batches must be a positive integer"),
    ({"pretrain_epochs": -1}, "pretrain_epochs must be an integer of 0 or more, got -1"),
    ({"gan_epochs": -2}, "gan_epochs must be an integer of 0 or more"),
    ({"n_images": -1}, "n_images must be an integer of 0 or more"),
    ({"gan_photos": 1.5}, "gan_photos must be an integer of 0 or more, got 1.5"),
    ({"gan_batch_size": -1}, "gan_batch_size must be an integer of 0 or more, got -1"),
    ({"disc_filters": 0}, "disc_filters must be a positive integer, got 0"),
    ({"val_fraction": 1.0}, "val_fraction must lie strictly between 0 and 1, got 1.0"),
    ({"val_fraction": 0}, "val_fraction must lie strictly between 0 and 1"),
    ({"pretrain_lr": 0.0}, "pretrain_lr must be a finite positive number"),
    ({"pretrain_lr": float("inf")}, "pretrain_lr must be a finite positive number, got inf"),
    ({"temperature": float("inf")}, "temperature must be a finite positive number, got inf"),
    ({"gan_lr": float("nan")}, "gan_lr must be a finite positive number, got nan"),
    ({"lambda_l1": float("inf")}, "lambda_l1 must be a finite number of 0 or more, got inf"),
    ({"beta1": 1.0}, r"beta1 and beta2 must lie in \[0, 1\)"),
    ({"gan_mode": "wgan"}, "gan_mode must be 'vanilla' or 'lsgan'"),
    ({"precision": "fp8"}, "precision must be"),
])
def test_out_of_range_fields_are_refused_naming_the_field_and_range(changes, message):
    with pytest.raises(ValueError, match=message):
        get_config("smoke", **changes)


def test_a_bad_batch_size_is_refused_before_the_split_is_written(tmp_path):
    from colorlib import stages

    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        stages.make_split(get_config("smoke", batch_size=0), tmp_path, log=lambda line: None)
    assert not (tmp_path / stages.SPLIT_FILE).exists()


def test_every_profile_passes_its_own_checks():
    for profile in PROFILES:
        assert get_config(profile) == PROFILES[profile]


def test_a_config_describes_every_field_and_the_photo_size_they_make():
    lines = get_config("cpu", load_size=256).describe().splitlines()
    assert len(lines) == len(get_config("cpu").asdict()) + 1 and lines[0].startswith("profile")
    assert lines[-1] == "photo_size           = 256  (not a field: load_size, or size when 0)"
