import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from colorlib.chapters.ch01_data import most_colourful, most_colourful_oblong
from colorlib.dataset import ColorizationDataset, LabTensorDataset, load_rgb, random_resized_crop
from colorlib.lab import dequantise_lab, quantise_lab, rgb_to_lab


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, mode in enumerate(["RGB", "L", "RGBA", "P"]):
        array = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
        image = Image.fromarray(array).convert(mode)
        paths.append(tmp_path / f"photo{i}.png")
        image.save(paths[-1])
    return paths


def test_items_are_normalised_L_and_ab(photos):
    dataset = ColorizationDataset(photos, "val", 32)
    assert len(dataset) == 4
    for item in (dataset[i] for i in range(4)):
        assert item["L"].shape == (1, 32, 32) and item["ab"].shape == (2, 32, 32)
        assert item["L"].dtype == torch.float32
        assert -1 <= item["L"].min() and item["L"].max() <= 1
        assert item["ab"].abs().max() <= 1


def test_validation_items_are_the_resized_photo(photos):
    item = ColorizationDataset(photos, "val", 32)[0]
    L, ab = rgb_to_lab(np.asarray(load_rgb(photos[0], 32)))
    np.testing.assert_array_equal(item["L"].numpy(), L)
    np.testing.assert_array_equal(item["ab"].numpy(), ab)


def test_training_items_are_flipped_at_random(photos):
    torch.manual_seed(0)
    dataset = ColorizationDataset(photos[:1], "train", 32)
    L, _ = rgb_to_lab(np.asarray(load_rgb(photos[0], 32)))
    mirrored, _ = rgb_to_lab(np.asarray(ImageOps.mirror(load_rgb(photos[0], 32))))
    seen = {"plain": 0, "mirrored": 0}
    for _ in range(20):
        sample = dataset[0]["L"].numpy()
        if np.array_equal(sample, L):
            seen["plain"] += 1
        else:
            np.testing.assert_array_equal(sample, mirrored)
            seen["mirrored"] += 1
    assert seen["plain"] > 0 and seen["mirrored"] > 0


def test_greyscale_photos_have_no_colour(photos):
    item = ColorizationDataset(photos[1:2], "val", 32)[0]
    assert item["ab"].abs().max() < 1e-3


def test_bad_split_and_empty_list_are_refused(photos):
    with pytest.raises(ValueError, match="split"):
        ColorizationDataset(photos, "test", 32)
    with pytest.raises(ValueError, match="no images"):
        ColorizationDataset([], "train", 32)


def test_random_crops_keep_a_share_of_the_photo_and_repeat_with_the_seed():
    lab = torch.arange(3 * 40 * 40, dtype=torch.float32).view(3, 40, 40)
    torch.manual_seed(1)
    first = [random_resized_crop(lab, 16, 0.3) for _ in range(5)]
    torch.manual_seed(1)
    second = [random_resized_crop(lab, 16, 0.3) for _ in range(5)]
    for a, b in zip(first, second):
        assert a.shape == (3, 16, 16)
        assert torch.equal(a, b)
    assert not all(torch.equal(first[0], other) for other in first[1:])  # crops differ


def test_a_whole_photo_crop_is_the_photo_resized():
    lab = torch.rand(3, 32, 32)
    assert torch.equal(random_resized_crop(lab, 32, 1.0), lab)
    expected = torch.nn.functional.interpolate(lab[None], size=(16, 16), mode="bilinear", antialias=True)[0]
    torch.testing.assert_close(random_resized_crop(lab, 16, 1.0), expected)


def test_crop_scale_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"min_scale must lie in \(0, 1\], got 0"):
        random_resized_crop(torch.rand(3, 8, 8), 4, 0)


def test_cached_training_items_are_cropped_to_the_crop_size():
    lab = quantise_lab(torch.rand(4, 3, 32, 32))
    item = LabTensorDataset(lab, "train", crop_size=16, min_scale=0.5)[0]
    assert item["L"].shape == (1, 16, 16) and item["ab"].shape == (2, 16, 16)
    assert LabTensorDataset(lab, "val", crop_size=16)[0]["L"].shape == (1, 32, 32)  # validation: whole


def test_decoded_training_items_are_cropped_like_cached_ones(photos):
    item = ColorizationDataset(photos[:1], "train", 32, crop_size=16, min_scale=0.5)[0]
    assert item["L"].shape == (1, 16, 16) and item["ab"].shape == (2, 16, 16)


def test_most_colourful_picks_the_photo_with_the_most_colour(tmp_path):
    grey = np.full((40, 50, 3), 128, np.uint8)
    colourful = np.zeros((40, 50, 3), np.uint8)
    colourful[:, :25] = (255, 0, 0)
    colourful[:, 25:] = (0, 0, 255)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(colourful).save(tmp_path / "colourful.png")
    paths = [tmp_path / "grey.png", tmp_path / "colourful.png"]
    path, scores = most_colourful(paths, size=32)
    assert path == paths[1] and scores[0] < 1 < scores[1] and scores.shape == (2,)


def test_the_squashing_example_is_the_most_colourful_photo_far_from_square(tmp_path):
    rng = np.random.default_rng(0)
    shapes = {"square_vivid": (40, 40), "portrait_vivid": (60, 40), "wide_grey": (40, 60), "near_square": (40, 44)}
    paths = []
    for name, shape in shapes.items():
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
        paths.append(tmp_path / f"{name}.png")
    scores = np.array([9.0, 5.0, 0.0, 7.0])
    assert most_colourful_oblong(paths, scores) == paths[1]  # 60 x 40 is 1.5, 44 x 40 only 1.1
    assert most_colourful_oblong(paths[2:], scores[2:]) == paths[2]
    assert most_colourful_oblong([paths[0], paths[3]], scores[[0, 3]]) is None


def test_training_ab_reads_a_spread_of_the_photos_a_batch_at_a_time():
    from colorlib.splits import training_ab

    codes = quantise_lab(torch.rand(10, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    batches = list(training_ab(LabTensorDataset(codes, "train"), limit=4, batch=2))
    assert [len(b) for b in batches] == [2, 2, 1]  # photos 0, 2, 4, 6, 8: every second of ten
    torch.testing.assert_close(torch.cat(batches), dequantise_lab(codes[::2, 1:]), rtol=0, atol=0)
