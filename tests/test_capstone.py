from colorlib.capstone import CAPSTONE, comparison_markdown, comparison_rows, duration, hardware
from colorlib.config import get_config


def test_rows_set_the_run_beside_the_capstone():
    config = get_config("cpu")
    rows = comparison_rows(config, 1543, 195, "imagenet", "2 CPU cores, no GPU", 2376.0, "notebooks 03 and 04")
    assert [row[0] for row in rows] == list(CAPSTONE)
    ours = {aspect: mine for aspect, _, mine in rows}
    assert ours["training photos"] == "1,543"
    assert ours["image size"] == "128 px (colour predicted at 32 px and upsampled)"
    cropped = dict((a, m) for a, _, m in comparison_rows(config.replace(load_size=256), 1543, 195))
    assert cropped["image size"] == "128 px (crops of photos held at 256 px; colour predicted at 32 px and upsampled)"
    assert ours["epochs (pretraining + GAN)"] == (f"{config.pretrain_epochs} + {config.gan_epochs} "
                                                  f"(the GAN on {config.gan_photos:,} photos)")
    assert ours["encoder and starting weights"] == "EfficientNet-Lite0, ImageNet weights"
    assert ours["training time"] == "39.6 minutes (notebooks 03 and 04)"
    assert ours["loss"] == "classification over a*b* bins, then GAN + 30 x the same classification loss"
    assert dict((a, c) for a, c, _ in rows)["epochs (pretraining + GAN)"] == "30 + 70"


def test_an_unknown_time_says_so_and_the_paper_profile_matches_the_capstone():
    rows = comparison_rows(get_config("paper"), 9000, 3000)
    ours = {aspect: mine for aspect, _, mine in rows}
    assert ours["training time"] == "not yet known" and ours["image size"] == "256 px"
    assert ours["epochs (pretraining + GAN)"] == "30 + 70"
    assert ours["loss"] == "L1, then GAN + 100 x L1"


def test_markdown_table_escapes_stars_and_hardware_reads_as_words():
    table = comparison_markdown([("loss", "L1", "classification over a*b* bins")])
    assert table.splitlines()[2] == "| loss | L1 | classification over a\\*b\\* bins |"
    assert hardware("NVIDIA V100", 8) == "one NVIDIA V100 GPU" and hardware(None, 2) == "2 CPU cores, no GPU"
    assert duration(90) == "1.5 minutes" and duration(11 * 3600) == "11.0 hours"


def test_the_training_photos_are_told_by_source_and_the_sample_by_its_named_size():
    from colorlib.capstone import CAPSTONE_PHOTOS, COCO_SAMPLE_PHOTOS

    rows = comparison_rows(get_config("cpu"), 10598, 195, train_sources={"imagenette": 9055, "coco": 1543})
    ours = {aspect: mine for aspect, _, mine in rows}
    assert ours["training photos"] == "10,598: 9,055 imagenette, 1,543 coco"
    single = comparison_rows(get_config("cpu"), 600, 195, train_sources={"coco": 600})
    assert dict((a, m) for a, _, m in single)["training photos"] == "600"
    assert f"{CAPSTONE_PHOTOS:,} drawn from fastai's {COCO_SAMPLE_PHOTOS:,}-photo COCO sample" in CAPSTONE["training photos"]
