import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from colorlib.dataset import ColorizationDataset, load_rgb
from colorlib.lab import rgb_to_lab


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
