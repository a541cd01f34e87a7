"""The teaching helpers the notebooks build their key ideas with: each agrees with what the library does."""
import numpy as np
import torch
from skimage.color import rgb2lab

from colorlib.bins import ab_bins, annealed_mean
from colorlib.chapters.ch01_data import colourfulness_by_source, config_changes, source_of, sources_markdown
from colorlib.chapters.ch03_pretrain import chroma, pixels_at_lightness, two_colour_logits
from colorlib.chapters.ch04_gan import gan_in_one_line
from colorlib.config import get_config


def test_the_sources_table_and_colour_by_source_count_each_side_of_the_split():
    from colorlib.splits import Split

    split = Split("folder", "given", ["/d/coco/a.jpg", "/d/imagenette/n1/b.jpg", "/d/imagenette/n1/c.jpg"],
                  ["/d/coco/v.jpg"], {}, {})
    table = sources_markdown(split).splitlines()
    assert table[2].startswith("| <code>imagenette</code> | fastai's Imagenette: ten") and table[2].endswith("| 2 | 0 |")
    assert "tench, English springer, cassette player" in table[2] and "URLs.IMAGENETTE_160" in table[2]
    assert table[3].startswith("| <code>coco</code> |") and table[3].endswith("| 1 | 1 |")
    lines = colourfulness_by_source(split, np.array([10.0, 30.0, 50.0, 20.0])).splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["imagenette", "(training)"], ["coco", "(training)"],
                                                         ["coco", "(validation)"]]
    assert lines[1].split()[2:] == ["2", "40.0", "40.0"]


def test_a_photo_s_source_is_its_first_folder_and_the_config_prints_its_changes():
    assert source_of("imagenette/n01440764/a.jpg", "folder") == "imagenette"
    assert source_of("a.jpg", "coco_sample") == "coco_sample"
    assert config_changes(get_config("smoke"), "smoke") == "the 'smoke' profile, unchanged"
    changed = config_changes(get_config("smoke", size=96), "smoke").splitlines()
    assert changed[0].endswith("with these fields changed:") and changed[1:] == ["size                 = 96"]


def test_the_annealed_mean_moves_from_the_mean_to_the_likelier_colour():
    centres = torch.from_numpy(ab_bins())
    red, blue = (50.0, 40.0), (0.0, -40.0)
    logits = two_colour_logits(centres, [red, blue], [0.6, 0.4])
    decoded = {t: annealed_mean(logits, centres, t).flatten().numpy() for t in (1.0, 0.38, 0.05)}
    assert np.allclose(decoded[1.0], 0.6 * np.array(red) + 0.4 * np.array(blue), atol=1.0)  # the plain mean
    assert chroma(decoded[1.0]) < chroma(decoded[0.38]) < chroma(decoded[0.05])
    assert np.allclose(decoded[0.05], red, atol=0.5)  # the most likely bin


def test_pixels_at_a_lightness_are_those_within_its_band():
    lab = torch.zeros(1, 3, 2, 2)
    lab[0, 0] = torch.tensor([[0.0, 0.02], [0.5, -0.5]])  # L* 50, 51, 75, 25
    lab[0, 1:] = 0.5  # a*b* 55
    ab = pixels_at_lightness(lab, lightness=50.0, width=2.0)
    assert ab.shape == (2, 2) and np.allclose(ab, 55.0)


def test_the_gan_is_summed_up_in_one_line_from_its_verdicts():
    assert gan_in_one_line(-0.2, 42.7, [], ["SSIM"]) == (
        "**In one line: the GAN paints about as much colour as the pretrained generator (-0.2), "
        "with a worse verdict against grey on SSIM.**")
    assert gan_in_one_line(9.4, 42.7, ["AuC"], ["CIEDE2000", "SSIM"]) == (
        "**In one line: the GAN paints more colour than the pretrained generator (+9.4), with a better verdict "
        "against grey on AuC, and a worse one on CIEDE2000 and SSIM.**")
    assert "less colour" in gan_in_one_line(-5.0, 42.7, [], []) and "the same verdicts" in gan_in_one_line(0, 40, [], [])
