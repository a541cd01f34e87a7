import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from colorlib.lab import (
    denormalize,
    dequantise_lab,
    describe_channels,
    lab_to_rgb,
    quantise_lab,
    rgb_to_lab,
    scaled_channels,
)


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(16, 24, 3), dtype=np.uint8)


def test_round_trip_rebuilds_the_image(rgb):
    L, ab = rgb_to_lab(rgb)
    np.testing.assert_allclose(lab_to_rgb(L, ab), rgb / 255.0, atol=1e-4)


def test_normalisation_is_the_capstones(rgb):
    L, ab = rgb_to_lab(rgb)
    lab = rgb2lab(rgb)
    assert L.shape == (1, 16, 24) and ab.shape == (2, 16, 24)
    assert L.dtype == np.float32 and ab.dtype == np.float32
    np.testing.assert_allclose(L[0], lab[..., 0] / 50 - 1, atol=1e-5)
    np.testing.assert_allclose(ab, lab[..., 1:].transpose(2, 0, 1) / 110, atol=1e-5)
    assert -1 <= L.min() and L.max() <= 1 and np.abs(ab).max() <= 1


def test_batch_of_tensors_round_trips(rgb):
    L, ab = rgb_to_lab(rgb)
    batch_L = torch.from_numpy(np.stack([L, L]))
    batch_ab = torch.from_numpy(np.stack([ab, ab]))
    out = lab_to_rgb(batch_L, batch_ab)
    assert out.shape == (2, 16, 24, 3)
    np.testing.assert_allclose(out[1], rgb / 255.0, atol=1e-4)


def test_grey_ab_gives_a_grey_image(rgb):
    L, ab = rgb_to_lab(rgb)
    out = lab_to_rgb(L, np.zeros_like(ab))
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-3)
    np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1e-3)


def test_scaled_channels_lie_in_unit_range(rgb):
    scaled = scaled_channels(rgb2lab(rgb))
    assert scaled.min() >= 0 and scaled.max() <= 1


def test_describe_channels_prints_like_the_capstone():
    lab = np.zeros((2, 2, 3))
    lab[0, 0] = [2.8592, -3.5, 4.25]
    lab[1, 1] = [100.0, 1.0, -1.0]
    assert describe_channels(lab).splitlines() == [
        "L : min=0.0000, max=100.0000",
        "a : min=-3.5000, max=1.0000",
        "b : min=-1.0000, max=4.2500",
    ]


def test_8_bit_codes_move_every_srgb_colour_by_at_most_half_a_step():
    from skimage.color import deltaE_ciede2000

    levels = np.arange(0, 256, 5, dtype=np.uint8)  # 52 levels a channel: 140,608 colours, black and white among them
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    L, ab = rgb_to_lab(rgb)
    codes = quantise_lab(torch.from_numpy(np.concatenate([L, ab])))
    back = dequantise_lab(codes).numpy()
    truth, stored = denormalize(L, ab), denormalize(back[:1], back[1:])
    error = np.abs(truth - stored).reshape(-1, 3).max(axis=0)
    assert codes.dtype == torch.uint8 and codes.shape == (3, len(rgb), 1)
    assert error[0] <= 50 / 127 / 2 + 1e-4 and error[1:].max() <= 110 / 127 / 2 + 1e-4  # 0.2 L*, 0.43 a*b*
    difference = deltaE_ciede2000(truth, stored)
    assert difference.mean() < 0.2 and difference.max() < 0.7  # measured 0.18 and 0.69


def test_8_bit_codes_keep_grey_black_and_white_exact():
    lab = torch.tensor([[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # black, mid grey, white
    assert torch.equal(dequantise_lab(quantise_lab(lab)), lab)
    assert dequantise_lab(quantise_lab(lab), torch.float16).dtype == torch.float16


def test_8_bit_codes_refuse_the_wrong_dtype():
    with pytest.raises(TypeError, match="quantise_lab takes normalised Lab as a float tensor, got torch.uint8"):
        quantise_lab(torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"dequantise_lab takes uint8 Lab codes .* got torch.float32"):
        dequantise_lab(torch.zeros(3))
