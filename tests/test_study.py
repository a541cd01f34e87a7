from pathlib import Path

import pytest

from colorlib import checkpoints, splits, stages
from colorlib.config import get_config
from colorlib.report import relative_folders
from colorlib.study import (RECIPE_ROW, Lever, budget_points, default_levers, describe_full_budget, describe_study, full_budget_levers,
                            full_budget_markdown, lever_config, plot_budget_curve, run_lever, study_table)
from conftest import colour_photo


def test_every_lever_sees_the_same_number_of_training_images():
    config = get_config("cpu")
    whole, share = Lever("whole", {}), Lever("a seventh", {}, photo_share=1 / 7)
    whole_config, whole_photos = lever_config(config, whole, 1600, 10_000)
    share_config, share_photos = lever_config(config, share, 1600, 10_000)
    assert (whole_photos, whole_config.pretrain_epochs) == (1600, 1)
    assert (share_photos, share_config.pretrain_epochs) == (229, 7)
    assert whole_config.gan_epochs == 0
    assert lever_config(config, Lever("g", {}, gan=True), 1600, 10_000)[0].gan_epochs == 1


def test_the_default_levers_are_the_recipe_and_the_recipe_with_one_thing_changed():
    config = get_config("cpu")
    levers = default_levers(config)
    recipe = levers[0].changes
    assert levers[0].name == RECIPE_ROW and recipe["output_stride"] == 4 and recipe["head"] == "classification"
    changed = [{key for key in recipe if lever.changes[key] != recipe[key]} for lever in levers[1:]]
    assert changed == [{"head"}, {"decoder"}, {"rebalance"}]
    assert not any(lever.gan for lever in levers)
    assert [lever.name for lever in default_levers(config.replace(decoder="unet", output_stride=1, rebalance=0.5))][1:] == [
        "the recipe with L1 regression (the capstone's loss)", "the recipe with rebalance 1 (none)"]


def test_the_budget_curve_spans_more_than_eight_times_its_smallest_budget():
    config = get_config("cpu")
    points = budget_points(config, n_train=10_000, images=config.study_images)
    assert points == [500, 1000]
    assert 10_000 * config.pretrain_epochs / points[0] >= 8  # the run's own generator is the last point
    assert budget_points(config, n_train=1500, images=1000) == [500, 1000]  # only budgets below the run's own


def test_the_other_loss_trains_for_the_recipes_whole_budget():
    config = get_config("cpu")
    [lever] = full_budget_levers(config)
    assert lever.full_budget and lever.changes["head"] == "regression"
    assert {key for key in lever.changes if lever.changes[key] != default_levers(config)[0].changes[key]} == {"head"}
    lever_cfg, photos = lever_config(config, lever, 10_000 * config.pretrain_epochs, 10_000)
    assert (photos, lever_cfg.pretrain_epochs) == (10_000, config.pretrain_epochs)  # every photo, every epoch
    assert full_budget_levers(config.replace(study_full_budget=False)) == []
    assert full_budget_levers(config.replace(head="regression", gan_reconstruction="l1"))[0].changes["head"] == "classification"


def test_the_full_budget_table_weighs_the_lever_against_the_recipe_paired():
    def row(mean, difference=None, low=None, high=None, beats=None):
        return {"mean": mean, **({} if difference is None else {"difference": difference, "difference_low": low,
                                                                "difference_high": high, "beats_baseline": beats})}
    own, l1 = {"lever": "own", "images_seen": 200, "photos": 100, "epochs": 2, "train_seconds": 540.0}, \
        {"lever": "L1, full budget", "train_seconds": 480.0}
    study = {"full_budget": [own, l1], "full_budget_versus_recipe": {
        "own": {"colourfulness": row(30.0), "ciede2000": row(10.5), "auc": row(0.90)},
        "L1, full budget": {"colourfulness": row(12.0, -18.0, -19.0, -17.0, None),
                            "ciede2000": row(10.8, 0.3, 0.1, 0.5, False), "auc": row(0.905, 0.005, -0.001, 0.01, False)}}}
    text = full_budget_markdown(study)
    assert "| colourfulness (amount of colour) | L1, full budget | 30.0 | 12.0 | -18.0 [-19.0, -17.0] | the lever paints less |" in text
    assert "+0.30 [+0.10, +0.50] | the recipe is better |" in text
    assert "+0.005 [-0.001, +0.010] | a tie: the interval holds zero |" in text
    assert "200 training images (100 photos x 2 epochs)" in text and "the recipe 9.0, L1, full budget 8.0" in text
    assert "trained no lever for the full budget" in full_budget_markdown({"levers": []})
    study.update(images=10, levers=[{"lever": "L1", "changes": {"head": "regression"}}],
                 summary={RECIPE_ROW: {"colourfulness": {"mean": 8.0}}, "L1": {"colourfulness": {"mean": 11.0}}})
    l1["changes"] = {"head": "regression"}
    text = describe_full_budget(study)
    assert ("**L1, full budget** against the recipe: colourfulness: the lever paints less; right hue" not in text
            and "colourfulness: the lever paints less; CIEDE2000: the recipe is better; AuC: a tie" in text)
    assert "painted 11.0 against the recipe's 8.0; at the whole budget 12.0 against 30.0: the short budget ranked" \
        " the two the other way round." in text


def _row(difference, low, high, beats, colour=None):
    row = {"mean": 10 + difference, "difference": difference, "difference_low": low, "difference_high": high,
           "beats_baseline": beats}
    return {"ciede2000": row, "auc": {**row, "mean": 0.9 + difference}, **({"colourfulness": {"mean": colour}}
                                                                          if colour is not None else {})}


def test_describe_study_says_what_the_numbers_favour_and_what_the_budget_bought():
    study = {"images": 100, "photos_colourfulness": 40.0, "summary": {
        RECIPE_ROW: _row(0.5, -0.1, 1.1, False, colour=30.0), "L1": _row(-0.2, -0.4, -0.1, True, colour=10.0),
        "small": _row(1.0, 0.5, 1.5, False, colour=20.0), "big": _row(-0.3, -0.5, -0.1, True, colour=32.0)},
        "levers": [{"lever": RECIPE_ROW, "train_seconds": 60.0}, {"lever": "L1", "train_seconds": 60.0}],
        "budget": [{"lever": "small", "images_seen": 50, "train_seconds": 30.0},
                   {"lever": "big", "images_seen": 800, "train_seconds": 480.0}]}
    text = describe_study(study)
    assert f"most colourful lever is **{RECIPE_ROW}**: colourfulness 30.0, 75%" in text
    assert "CIEDE2000 favours **L1**, not the run's recipe" in text  # the recipe's mean AuC is the highest
    assert "16 times the training images" in text and "from 50% to 80%" in text
    assert "+1.00 (loses to grey) to -0.30 (beats grey)" in text and "paints less than" not in text
    study["summary"]["L1"]["colourfulness"]["mean"] = 35.0
    assert ("the run's recipe paints less than **L1** (colourfulness 30.0 against 35.0); trained on every photo "
            "(the budget curve's largest point) it paints 32.0.") in describe_study(study)
    fig = plot_budget_curve({**study, "n_val": 5})
    assert [ax.get_xscale() for ax in fig.axes] == ["log"] * 3 and len(fig.axes[1].lines) >= 2


def test_a_training_subset_is_seeded_and_keeps_the_validation_photos():
    split = splits.Split("s", "r", [f"t{i}" for i in range(10)], ["v"], {}, {})
    a, b = stages.training_subset(split, 4, seed=1), stages.training_subset(split, 4, seed=1)
    assert a.train == b.train and len(a.train) == 4 and set(a.train) < set(split.train) and a.val == ["v"]
    assert stages.training_subset(split, 0, seed=1) is split


def test_the_study_table_marks_differences_that_beat_grey():
    row = {"mean": 1.0, "difference": -0.5, "difference_low": -0.8, "difference_high": -0.2, "beats_baseline": True}
    study = {"photos_colourfulness": 40.0, "summary": {
        "grey": {"ciede2000": {"mean": 11.0}, "auc": {"mean": 0.88}},
        "L": {"ciede2000": row, "auc": {**row, "beats_baseline": False}, "colourfulness": {"mean": 22.0}}},
        "levers": [{"lever": "L", "photos": 100, "epochs": 2, "gan_epochs": 0, "train_seconds": 90.0}]}
    table = study_table(study)
    assert "| L | 100 x 2 | 1.5 min | 1.00, **-0.50 [-0.80, -0.20]** |" in table and "photos: 40.0" in table


def test_folders_in_overrides_are_made_relative_to_the_notebooks(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    value = f"{tmp_path / 'a'},{tmp_path / 'b'}"
    assert relative_folders(value, tmp_path / "notebooks") == str(Path("..") / "a") + "," + str(Path("..") / "b")
    assert relative_folders("not a folder", tmp_path) == "not a folder" and relative_folders(3, tmp_path) == 3


def test_a_regression_lever_of_a_run_whose_gan_keeps_the_cross_entropy_is_valid():
    config = get_config("cpu")
    assert config.gan_reconstruction == "cross_entropy"
    for lever in default_levers(config):
        lever_cfg, _ = lever_config(config, lever, 100, 1000)
        assert (lever_cfg.gan_reconstruction == "cross_entropy") == (lever_cfg.head == "classification")


@pytest.mark.slow
def test_a_resumed_lever_reports_the_time_its_training_took(tmp_path):
    # Running the study again resumes each finished lever: its table must still say what training cost.
    data = tmp_path / "photos"
    data.mkdir()
    for seed in range(6):
        colour_photo(size=(64, 64), seed=seed).save(data / f"photo{seed}.png")
    config = get_config("smoke", data=str(data), n_images=0, size=32, load_size=32)
    split = stages.make_split(config, tmp_path / "run", log=lambda line: None)
    lever = Lever("the run's recipe", {})
    _, first = run_lever(config, split, lever, 8, tmp_path / "lever", log=lambda line: None)
    _, again = run_lever(config, split, lever, 8, tmp_path / "lever", log=lambda line: None)
    history = checkpoints.load_json(tmp_path / "lever" / checkpoints.PRETRAIN_HISTORY_FILE)
    assert first["train_seconds"] == again["train_seconds"] == stages.training_seconds(history) > 0
