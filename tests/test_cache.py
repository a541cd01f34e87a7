import numpy as np
import pytest
import torch

from colorlib.cache import PREPROCESSING_VERSION, LabCache, file_digest
from colorlib.dataset import ColorizationDataset, LabTensorDataset
from colorlib.lab import dequantise_lab, quantise_lab
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
    lab = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).reshape(2, 3, 4, 4)
    torch.manual_seed(0)
    train = LabTensorDataset(lab, "train")
    items = [train[0]["L"] for _ in range(20)]
    plain = dequantise_lab(lab[0, :1])
    assert any(torch.equal(i, plain) for i in items)
    assert any(torch.equal(i, plain.flip(-1)) for i in items)
    val = LabTensorDataset(lab, "val")[1]
    assert val["ab"].dtype == torch.float32 and torch.equal(val["ab"], dequantise_lab(lab[1, 1:]))


def test_the_stack_holds_each_photo_as_8_bit_codes_of_its_cached_tensor(tmp_path):
    for seed in range(3):
        colour_photo(seed=seed).save(tmp_path / f"p{seed}.png")
    paths = sorted(tmp_path.glob("*.png"))
    cache = LabCache(32, tmp_path / "cache")
    codes = cache.stack(paths)
    assert codes.shape == (3, 3, 32, 32) and codes.dtype == torch.uint8
    for row, path in zip(codes, paths):
        assert torch.equal(row, quantise_lab(cache.get(path)))
    assert not torch.equal(codes[0], codes[1])


def test_the_tensor_dataset_refuses_anything_but_8_bit_codes():
    import pytest

    with pytest.raises(TypeError, match="LabTensorDataset holds 8-bit Lab codes .* got torch.float16"):
        LabTensorDataset(torch.zeros(2, 3, 4, 4, dtype=torch.float16), "train")


def test_a_photo_edited_after_the_split_gets_a_fresh_tensor(tmp_path):
    import json

    from colorlib import splits, stages
    from colorlib.config import get_config

    for seed in range(4):
        colour_photo(seed=seed).save(tmp_path / f"p{seed}.png")
    config = get_config("smoke", data=str(tmp_path), n_images=0, size=32, cache_dir=str(tmp_path / "cache"))
    split = stages.make_split(config, tmp_path / "run", log=lambda line: None)
    before = splits.lab_tensors(split.val, split, config)
    colour_photo(seed=9, size=(64, 80)).save(split.val[0])  # edited after notebook 01
    split = stages.load_split(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "split.json").read_text())["digests"][split.val[0]] != file_digest(
        split.val[0])  # split.json still holds the old digest
    after = splits.lab_tensors(split.val, split, config)
    assert not torch.equal(before[0], after[0])
    assert torch.equal(after[0], quantise_lab(LabCache(32, tmp_path / "fresh").get(split.val[0])))


def test_a_digest_that_is_not_sha256_is_never_used_as_a_path(tmp_path):
    import json

    import pytest

    from colorlib import stages

    colour_photo().save(tmp_path / "a.png")
    for bad in ("../..", "../../" + "0" * 58, "A" * 64, "0" * 63):
        with pytest.raises(ValueError, match="is not a sha256 digest; expected 64 hexadecimal characters"):
            LabCache(32, tmp_path / "cache").get(tmp_path / "a.png", bad)
    assert not (tmp_path / "cache").exists()
    run = tmp_path / "run"
    run.mkdir()
    split = {"source": "folder", "reason": "", "train": [str(tmp_path / "a.png")], "val": [],
             "digests": {str(tmp_path / "a.png"): "../.."}, "counts": {}}
    (run / "split.json").write_text(json.dumps(split))
    with pytest.raises(ValueError, match=r"split.json: the digest of .*a.png '\.\./\.\.' is not a sha256"):
        stages.load_split(run)


def test_a_corrupt_cache_entry_is_named_and_rebuilt(tmp_path):
    import pytest

    colour_photo().save(tmp_path / "a.png")
    cache = LabCache(32, tmp_path / "cache")
    first = cache.get(tmp_path / "a.png")
    entry = cache.entry(file_digest(tmp_path / "a.png"))
    entry.write_bytes(entry.read_bytes()[:100])  # truncated, as by a full disk or a killed copy
    with pytest.warns(UserWarning, match=f"cache entry {entry} .* is corrupt.*rebuilding it"):
        again = cache.get(tmp_path / "a.png")
    assert torch.equal(first, again) and cache.misses == 2
    assert torch.equal(torch.load(entry, weights_only=True), first)  # rebuilt on disk too


def test_a_nan_entry_of_the_right_shape_is_rebuilt_and_named(tmp_path):
    colour_photo().save(tmp_path / "a.png")
    cache = LabCache(16, tmp_path / "cache")
    good = cache.get(tmp_path / "a.png")
    entry = cache.entry(file_digest(tmp_path / "a.png"))
    torch.save(torch.full((3, 16, 16), float("nan"), dtype=torch.float16), entry)
    with pytest.warns(UserWarning, match=f"cache entry {entry} for .*a.png holds no finite 16 px Lab tensor"):
        assert torch.equal(cache.get(tmp_path / "a.png"), good)
