"""The batched torch SSIM against scikit-image's structural_similarity, image by image."""
import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import structural_similarity
from skimage.transform import resize

from colorlib.bench import bench_ssim
from colorlib.lab import AB_SCALE, lab_to_rgb, rgb_to_lab
from colorlib.ssim import ssim_batch


def skimage_ssim(x, y, data_range):
    """The reference: scikit-image on each (H, W, C) float64 pair, with its own data range."""
    pairs = zip(x, y, data_range)
    return np.array([structural_similarity(a, b, data_range=r, channel_axis=2) for a, b, r in pairs])


def torch_ssim(x, y, data_range, **kwargs):
    """ssim_batch on the same (N, H, W, C) arrays."""
    x, y = (torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2) for a in (x, y))
    return ssim_batch(x, y, torch.as_tensor(data_range), **kwargs).numpy()


@pytest.fixture(scope="module")
def photos():
    """Four photos at 48 px: truth, a colorization with halved and shifted ab, and grey."""
    names = ("astronaut", "chelsea", "coffee", "rocket")
    images = [resize(getattr(data, name)(), (48, 48), anti_aliasing=True) for name in names]
    L, ab = (np.stack(channels) for channels in zip(*(rgb_to_lab(image) for image in images)))
    return L, ab, lab_to_rgb(L, ab), lab_to_rgb(L, 0.5 * ab + 0.02), lab_to_rgb(L, 0 * ab)


def capstone_range(images):
    return images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))


@pytest.mark.parametrize("prediction", [3, 4], ids=["colorized", "grey"])
def test_matches_scikit_image_on_photos_with_the_capstones_range(photos, prediction):
    real, fake = photos[2], photos[prediction]
    expected = skimage_ssim(fake, real, capstone_range(fake))
    np.testing.assert_allclose(torch_ssim(fake, real, capstone_range(fake)), expected, atol=1e-4, rtol=0)


def test_matches_scikit_image_with_a_fixed_range_and_on_ab(photos):
    _, ab, real, fake, _ = photos
    expected = skimage_ssim(fake, real, [1.0] * 4)
    np.testing.assert_allclose(torch_ssim(fake, real, [1.0] * 4), expected, atol=1e-4, rtol=0)
    real_ab, fake_ab = (AB_SCALE * a.transpose(0, 2, 3, 1) for a in (ab, 0.5 * ab))
    expected = skimage_ssim(fake_ab, real_ab, [2 * AB_SCALE] * 4)
    np.testing.assert_allclose(torch_ssim(fake_ab, real_ab, [2 * AB_SCALE] * 4), expected, atol=1e-4, rtol=0)


def test_matches_scikit_image_on_random_and_nearly_flat_images():
    rng = np.random.default_rng(0)
    noisy = rng.uniform(0, 1, (3, 20, 31, 3))
    flat = 0.9 + rng.normal(0, 5e-4, (3, 20, 31, 3))  # tiny data range: tiny C1 and C2
    for fake in (noisy, flat):
        real = np.clip(fake + rng.normal(0, 0.05 * fake.std(), fake.shape), 0, 1)
        expected = skimage_ssim(fake, real, capstone_range(fake))
        np.testing.assert_allclose(torch_ssim(fake, real, capstone_range(fake)), expected, atol=1e-4, rtol=0)


def test_identical_images_score_one_and_chunks_do_not_change_the_result(photos):
    real, fake = photos[2], photos[3]
    np.testing.assert_allclose(torch_ssim(real, real, [1.0] * 4), 1.0)
    whole = torch_ssim(fake, real, capstone_range(fake), chunk_size=4)
    one_by_one = torch_ssim(fake, real, capstone_range(fake), chunk_size=1)
    np.testing.assert_allclose(whole, one_by_one, atol=1e-12, rtol=0)


def test_a_single_data_range_applies_to_every_image(photos):
    real, fake = (torch.from_numpy(a).permute(0, 3, 1, 2) for a in photos[2:4])
    assert torch.equal(ssim_batch(fake, real, 1.0), ssim_batch(fake, real, torch.ones(4)))


def test_rejects_mismatched_or_too_small_images():
    with pytest.raises(ValueError, match="one shape"):
        ssim_batch(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9), 1.0)
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim_batch(torch.zeros(1, 3, 6, 8), torch.zeros(1, 3, 6, 8), 1.0)


def test_bench_reports_both_times_and_agreement():
    result = bench_ssim(n_images=2, size=16)
    assert set(result) == {"n_images", "size", "skimage_s", "torch_s", "speedup", "max_abs_difference"}
    assert result["speedup"] == pytest.approx(result["skimage_s"] / result["torch_s"])
    assert result["max_abs_difference"] < 1e-4
