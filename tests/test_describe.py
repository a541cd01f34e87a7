"""The functions that put a run's numbers into words, tables and figures for notebooks 04 to 06."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from colorlib import plots
from colorlib.chapters import ch04_gan
from colorlib.chapters.ch04_gan import (
    describe_gan_balance,
    describe_gan_budget,
    describe_receptive_field,
    describe_val_ssim,
    gan_objective_markdown,
    grey_ssim,
    receptive_field,
    reconstruction_key,
)
from colorlib.chapters.ch05_scores import differences_markdown, results_markdown, takeaways
from colorlib.chapters.ch06_colorize import colorize_variants, describe_variants, variants_markdown
from colorlib.config import get_config
from colorlib.metrics import ciede2000_jnd, colourfulness_word, summarize_with_ci, win_rates
from colorlib.discriminator import PatchDiscriminator
from colorlib.models import GeneratorSpec
from colorlib.splits import Split

HISTORY = [{"epoch": 1, "D_fake": 0.43, "D_real": 0.46, "D": 0.445, "G_GAN": 2.0, "G_L1": 8.0, "G": 10.0,
            "images_per_s": 13.0, "val_ssim": 0.88}]


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    grey = {"ciede2000": 11 + rng.normal(0, 1, 40), "auc": 0.88 + rng.normal(0, 0.01, 40),
            "ssim": 0.9 + rng.normal(0, 0.01, 40), "colourfulness": np.zeros(40),
            "colourfulness_gap": -40 + rng.normal(0, 1, 40)}
    model = {"ciede2000": grey["ciede2000"] - 1.5, "auc": grey["auc"] + 0.01, "ssim": grey["ssim"],
             "colourfulness": 25 + rng.normal(0, 1, 40), "colourfulness_gap": grey["colourfulness_gap"] + 25}
    model["auc"][:10] -= 0.05  # 10 of 40 photos worse than grey
    return {"grey": grey, "pretrained": model}


def test_scales_name_values():
    assert colourfulness_word(0) == "not colourful"
    assert colourfulness_word(30) == "moderately colourful"
    assert colourfulness_word(200) == "extremely colourful"
    assert ciede2000_jnd(-0.4).startswith("less than one")
    assert ciede2000_jnd(1.5).startswith("about one")
    assert ciede2000_jnd(6) == "about 3 to 6 just-noticeable differences"


def test_win_rates_follow_each_metrics_direction(scores):
    rates = win_rates(scores)
    assert rates == {"pretrained": {"ciede2000": 1.0, "auc": 0.75}}


def test_tables_are_markdown_with_a_row_per_model(scores):
    summary = summarize_with_ci(scores, n_resamples=200)
    table = results_markdown(summary, photos_colourfulness=40.0)
    lines = table.splitlines()
    assert lines[0].startswith("| model | SSIM (capstone) (higher is better)")
    assert len(lines) == 2 + 2 + 1 and "beats grey" in lines[3] and "the photos themselves" in lines[-1]
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    differences = differences_markdown(summary, scores)
    assert "100%" in differences and "75%" in differences and "just-noticeable" in differences


def test_takeaways_name_the_shipped_row_and_its_colour(scores):
    summary = summarize_with_ci(scores, n_resamples=200)
    text = takeaways({"summary": summary, "shipped": "pretrained", "shipped_meets_rule": True}, scores)
    assert text.count("\n- ") == 2 and "**pretrained** ships" in text
    assert "lower on 100% of the photos" in text and "higher on 75%" in text
    assert takeaways({"summary": summary, "shipped": None}, scores).startswith("- No generator")


def test_figures_draw(scores):
    summary = summarize_with_ci(scores, n_resamples=200)
    assert len(plots.plot_differences_from_baseline(summary, win_rates(scores)).axes) == 2
    assert len(ch04_gan.plot_gan_losses(HISTORY).axes) == 3
    assert len(ch04_gan.plot_gan_losses(HISTORY + [{**HISTORY[0], "epoch": 2}]).axes) == 3
    steps = {key: [0.5 + 0.01 * i for i in range(30)] for key in ("D_fake", "D_real", "D", "G_GAN", "G_L1", "G")}
    per_step = [{**HISTORY[0], "step_losses": steps}, {**HISTORY[0], "epoch": 2, "step_losses": steps}]
    discriminator, adversarial, reconstruction = ch04_gan.plot_gan_losses(per_step, window=20).axes
    assert discriminator.get_xlabel() == "step" and len(discriminator.lines) == 2 * 3 + 1 + 1  # raw, mean; epoch; log 2
    assert len(adversarial.lines) == 2 + 1 + 1
    assert adversarial.get_legend_handles_labels()[1] == ["G_GAN (mean of 20 steps)"]
    assert len(reconstruction.lines) == 2 * 2 + 1 and len(reconstruction.lines[1].get_xdata()) == 60 - 19  # no log 2


def test_patchgan_sees_70_pixels():
    discriminator = PatchDiscriminator()
    assert receptive_field(discriminator) == 70
    assert "larger than the 64 x 64" in describe_receptive_field(discriminator, 64)
    assert "a local patch" in describe_receptive_field(discriminator, 256)


def test_gan_sentences_are_computed():
    config = get_config("smoke")
    text = gan_objective_markdown(config)
    assert r"\lambda = 100" in text and r"\lVert y - G(x) \rVert_1" in text
    assert reconstruction_key(HISTORY) == "G_L1"
    assert reconstruction_key([{"G_GAN": 1, "G_cross_entropy": 2, "G": 3}]) == "G_cross_entropy"
    kept = gan_objective_markdown(config.replace(head="classification", gan_reconstruction="cross_entropy",
                                                 lambda_cross_entropy=3.0))
    assert r"\lambda = 3" in kept and r"\mathrm{CE}" in kept
    assert "80%" in describe_gan_balance(HISTORY) and "better than chance" in describe_gan_balance(HISTORY)
    assert "0.880" in describe_val_ssim(HISTORY, 0.91, 5) and "0.910" in describe_val_ssim(HISTORY, 0.91, 5)
    split = Split(source="samples", reason="", train=["a"] * 10, val=["b"], digests={}, counts={})
    assert f"**{config.gan_epochs} epochs** on **10 photos**" in describe_gan_budget(config, split)
    assert "batches of 4: **4 steps**" in describe_gan_budget(config, split)  # 2 epochs of 10 // 4 batches
    assert "batches of 5: **6 steps**" in describe_gan_budget(config.replace(gan_batch_size=5, gan_epochs=3), split)


def test_grey_ssim_of_a_batch():
    L = torch.linspace(-1, 1, 2 * 16 * 16).reshape(2, 1, 16, 16)
    ab = torch.zeros(2, 2, 16, 16)
    assert grey_ssim({"L": L, "ab": ab}) == pytest.approx(1.0)


def test_colorized_variants_are_described():
    spec = GeneratorSpec(32)
    rgb = np.random.default_rng(0).random((40, 48, 3))
    variants, colorized = colorize_variants(rgb, spec.build().eval(), spec)
    assert set(colorized) == set(variants) and colorized["original"].shape == rgb.shape
    assert all(np.ptp(image, axis=-1).max() < 1e-3 for image in variants.values())  # grey: L* alone
    table = variants_markdown(variants, colorized, rgb)
    assert len(table.splitlines()) == 2 + len(variants) + 1 and "the photo's own colours" in table
    assert "most colourful colorization" in describe_variants(variants, colorized)
    assert len(plots.show_variants_colorized(variants, colorized).axes) == 2 * len(variants)


def test_the_gan_is_weighed_against_the_pretrained_generator_with_paired_intervals():
    from colorlib.chapters.ch04_gan import gan_against_pretrained_markdown

    rng = np.random.default_rng(0)
    base = {metric: rng.uniform(0.2, 0.8, 40) for metric in ("colourfulness", "right_hue", "ciede2000", "auc")}
    gan = {"colourfulness": base["colourfulness"] + 0.1, "right_hue": base["right_hue"] - 0.05,
           "ciede2000": base["ciede2000"] + rng.normal(0, 0.01, 40), "auc": base["auc"] + 0.02}
    history = [{"seconds": 90.0, "images_per_s": 8.0, "step_losses": {"D": [0.7] * 600}},
               {"seconds": 30.0, "images_per_s": 9.5, "step_losses": {"D": [0.6] * 400}}]
    text = gan_against_pretrained_markdown({"pretrained": base, "gan": gan}, history)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "| +0.1 [+0.1, +0.1] | the GAN paints more |" in rows["colourfulness (amount of colour)"]
    assert rows["right hue (share of coloured pixels)"].endswith("| the GAN is worse |")
    assert rows["AuC (higher is better)"].endswith("| the GAN is better |")
    assert rows["CIEDE2000 (lower is better)"].endswith("| a tie: the interval holds zero |")
    assert "**1,000 steps** in **2.0 minutes** (9.5 images a second" in text
    assert "no GAN" in gan_against_pretrained_markdown({"pretrained": base}, history)
