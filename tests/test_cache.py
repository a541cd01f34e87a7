import numpy as np
import torch

from colorlib.cache import PREPROCESSING_VERSION, LabCache, file_digest
from colorlib.dataset import ColorizationDataset, LabTensorDataset
from conftest import colour_photo


def test_cached_tensors_match_the_decoded_dataset(tmp_path):
    colour_photo().save(tmp_path / "a.png")
    cache = LabCache(32, tmp_path / "cache")
    tensor = cache.get(tmp_path / "a.png")
    item = ColorizationDataset([tmp_path / "a.png"], "val", 32)[0]
    assert tensor.shape == (3, 32, 32) and tensor.dtype == torch.float16
    torch.testing.assert_close(tensor[:1].float(), item["L"], atol=2e-3, rtol=0)
    torch.testing.assert_close(tensor[1:].float(), item["ab"], atol=2e-3, rtol=0)


def test_second_use_is_a_hit_and_identical(tmp_path):
    colour_photo().save(tmp_path / "a.png")
    cache = LabCache(32, tmp_path / "cache")
    first = cache.get(tmp_path / "a.png")
    second = LabCache(32, tmp_path / "cache").get(tmp_path / "a.png")
    assert cache.misses == 1 and torch.equal(first, second)
    assert f"v{PREPROCESSING_VERSION}" in str(cache.entry(file_digest(tmp_path / "a.png")))


def test_changed_content_or_size_is_recomputed(tmp_path):
    photo = tmp_path / "a.png"
    colour_photo(seed=0).save(photo)
    cache = LabCache(32, tmp_path / "cache")
    before = cache.get(photo)
    colour_photo(seed=1, size=(64, 80)).save(photo)
    after = cache.get(photo)
    assert cache.misses == 2 and not torch.equal(before, after)
    assert LabCache(16, tmp_path / "cache").get(photo).shape == (3, 16, 16)


def test_tensor_dataset_flips_on_the_tensor(tmp_path):
    lab = torch.arange(2 * 3 * 4 * 4, dtype=torch.float16).reshape(2, 3, 4, 4)
    torch.manual_seed(0)
    train = LabTensorDataset(lab, "train")
    items = [train[0]["L"] for _ in range(20)]
    plain = lab[0, :1].float()
    assert any(torch.equal(i, plain) for i in items)
    assert any(torch.equal(i, plain.flip(-1)) for i in items)
    val = LabTensorDataset(lab, "val")[1]
    assert torch.equal(val["ab"], lab[1, 1:].float())
    assert np.isclose(float(val["L"].sum()), float(lab[1, 0].float().sum()))
