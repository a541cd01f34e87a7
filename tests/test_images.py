import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorlib.images import (
    REASONS,
    ImageRejected,
    check_photo,
    colour_reason,
    read_picture,
    read_rgb,
    scan_images,
    to_rgb8,
)
from colorlib.sources import list_images
from conftest import adobe_rgb_profile, adobe_rgb_to_srgb, colour_photo


def test_every_awkward_file_gets_its_outcome(bad_files):
    for name, (path, expected) in bad_files.items():
        try:
            rgb = check_photo(path, min_side=32)
            outcome = "kept"
            assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, name
        except ImageRejected as rejected:
            outcome = rejected.reason
            assert str(path) in str(rejected) and REASONS[outcome] in str(rejected)
        assert outcome == expected, name


def test_scan_counts_by_reason_and_never_stops(bad_files):
    result = scan_images([path for path, _ in bad_files.values()], min_side=32)
    counts = result.counts()
    assert counts["found"] == len(bad_files)
    assert counts["kept"] == 4
    assert counts["excluded"] == {
        "decompression_bomb": 1, "empty": 1, "greyscale": 2, "not_an_image": 1, "too_small": 1, "truncated": 1,
    }
    assert result.summary().startswith(f"{len(bad_files)} images found, 4 kept; excluded: 1 decompression_bomb")


def test_sixteen_bit_images_become_eight_bit(bad_files):
    rgb = read_rgb(bad_files["grey16.png"][0])
    assert rgb.dtype == np.uint8
    assert rgb.min() == 0 and rgb.max() == 255
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_transparency_is_composited_over_white():
    clear = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert (to_rgb8(clear) == 255).all()
    half = Image.new("LA", (4, 4), (0, 128))
    assert abs(int(to_rgb8(half)[0, 0, 0]) - 127) <= 1


def test_cmyk_becomes_rgb(bad_files):
    rgb = read_rgb(bad_files["cmyk.jpg"][0])
    reference = np.asarray(colour_photo(seed=1)).astype(int)
    assert np.abs(rgb.astype(int) - reference).mean() < 12


def test_exif_orientation_is_applied(tmp_path):
    image = colour_photo(size=(80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert read_rgb(tmp_path / "rotated.jpg").shape == (80, 40, 3)


def test_a_corrupt_exif_warning_names_the_file_and_the_photo_is_read(tmp_path):
    # An orientation tag whose data lies past the end of its block: Pillow warns and skips it.
    corrupt = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\xff\xff\x00\x00\x01\x00\x00\x00"
    colour_photo(size=(40, 30)).save(tmp_path / "bad_exif.jpg", exif=corrupt)
    with pytest.warns(UserWarning, match=r"bad_exif\.jpg: .*(Tag data larger|Corrupt EXIF)"):
        assert read_rgb(tmp_path / "bad_exif.jpg").shape == (30, 40, 3)


def test_near_colourless_photo_is_set_aside():
    grey = np.asarray(colour_photo().convert("L").convert("RGB")).astype(np.int16)
    tinted = np.clip(grey + np.array([5, 2, 0]), 0, 255).astype(np.uint8)  # a faint sepia cast
    assert colour_reason(tinted) == "colourless"
    assert colour_reason(np.asarray(colour_photo())) is None
    assert colour_reason(grey.astype(np.uint8)) == "greyscale"


def test_small_photos_are_too_small_for_the_training_size(tmp_path):
    colour_photo(size=(100, 50)).save(tmp_path / "wide.png")
    assert check_photo(tmp_path / "wide.png", min_side=50).shape == (50, 100, 3)
    with pytest.raises(ImageRejected, match="100 x 50, needs 64"):
        check_photo(tmp_path / "wide.png", min_side=64)


SHARED_COCO = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_COCO.is_dir(), reason="the COCO stand-in (../shared/data/coco) is not on this machine")
def test_the_coco_stand_in_scans_cleanly():
    manifest = (SHARED_COCO / "MANIFEST.csv").read_text().splitlines()
    stored_grey = sum(line.split(",")[5] == "L" for line in manifest[1:])
    result = scan_images(list_images(SHARED_COCO / "images"), min_side=128)
    counts = result.counts()
    assert counts["found"] == len(manifest) - 1
    assert counts["excluded"].get("greyscale", 0) >= stored_grey  # plus RGB files holding grey photos
    assert set(counts["excluded"]) <= {"greyscale", "colourless"}  # no broken or tiny files
    assert counts["kept"] > 0.95 * counts["found"]


def test_a_float_tiff_of_zero_to_one_is_not_black(tmp_path):
    values = np.tile(np.linspace(0.0, 1.0, 80, dtype=np.float32), (64, 1))
    Image.fromarray(values, mode="F").save(tmp_path / "float.tif")
    assert Image.open(tmp_path / "float.tif").mode == "F"
    rgb = read_rgb(tmp_path / "float.tif")
    assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255
    assert np.array_equal(rgb[0, :, 1], np.rint(values[0] * 255).astype(np.uint8))


def test_a_float_tiff_holding_nan_is_set_aside_saying_why(tmp_path):
    values = np.full((64, 80), 0.5, dtype=np.float32)
    values[3, 4], values[5, 6] = np.nan, np.inf
    Image.fromarray(values, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageRejected, match=r"nan\.tif: pixels that are not numbers .*\(2 of 5120 pixels\)") as error:
        read_rgb(tmp_path / "nan.tif")
    assert error.value.reason == "not_finite"


def test_an_adobe_rgb_photo_is_read_in_srgb_and_keeps_its_alpha(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 256, size=(16, 24, 4), dtype=np.uint8)
    Image.fromarray(rgba[..., :3]).save(tmp_path / "adobe.png", icc_profile=adobe_rgb_profile())
    expected = adobe_rgb_to_srgb(rgba[..., :3])  # the published matrices, not the code under test
    assert np.abs(read_rgb(tmp_path / "adobe.png").astype(int) - expected).max() <= 1
    assert np.abs(rgba[..., :3].astype(int) - expected).max() > 20  # read as sRGB, the colours would be off
    Image.fromarray(rgba).save(tmp_path / "adobe_alpha.png", icc_profile=adobe_rgb_profile())
    picture = read_picture(tmp_path / "adobe_alpha.png")
    assert np.array_equal(picture.alpha, rgba[..., 3])
    assert np.abs(picture.rgb.astype(int) - expected).max() <= 1


def test_a_photo_whose_profile_cannot_be_read_keeps_its_values_with_a_warning_naming_it(tmp_path):
    rgb = colour_photo(size=(40, 30))
    rgb.save(tmp_path / "broken_profile.png", icc_profile=b"not an ICC profile at all")
    with pytest.warns(UserWarning, match=r"broken_profile\.png: its ICC profile cannot be applied"):
        assert np.array_equal(read_rgb(tmp_path / "broken_profile.png"), np.asarray(rgb))


def test_a_dark_sixteen_bit_png_stays_dark(tmp_path):
    dark = np.tile(np.arange(0, 240, 3, dtype=np.uint16), (64, 1))  # 16-bit values that all stay under 256
    Image.fromarray(dark).save(tmp_path / "dark16.png")
    assert Image.open(tmp_path / "dark16.png").mode in ("I;16", "I")
    rgb = read_rgb(tmp_path / "dark16.png")
    assert rgb.max() == 1  # 237 of 65535 is 0.9 of 255, not 237
    assert np.array_equal(rgb[..., 0], np.rint(dark / 257).astype(np.uint8))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions")
def test_a_file_without_read_permission_is_named_as_such(tmp_path):
    colour_photo().save(tmp_path / "locked.png")
    (tmp_path / "locked.png").chmod(0)
    try:
        with pytest.raises(ImageRejected, match="permission denied") as error:
            read_rgb(tmp_path / "locked.png")
        assert error.value.reason == "permission_denied"
    finally:
        (tmp_path / "locked.png").chmod(0o644)


def test_a_folder_and_a_symlink_loop_are_named_as_such(tmp_path):
    (tmp_path / "photo.jpg").mkdir()
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    for name, reason, words in [("photo.jpg", "is_a_folder", "a folder, not an image file"),
                                ("loop.jpg", "symlink_loop", "a symbolic link that loops"),
                                ("gone.jpg", "missing", "no such file")]:
        with pytest.raises(ImageRejected) as error:
            read_rgb(tmp_path / name)
        assert error.value.reason == reason and f"{tmp_path / name}: {words}" in str(error.value)


def test_alpha_and_frames_are_read_apart_from_the_colours(tmp_path):
    rgba = colour_photo(seed=2).convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 100))
    rgba.save(tmp_path / "rgba.png")
    picture = read_picture(tmp_path / "rgba.png")
    assert np.array_equal(picture.rgb, np.asarray(colour_photo(seed=2))) and (picture.alpha == 100).all()
    assert np.array_equal(picture.composited(), read_rgb(tmp_path / "rgba.png"))  # training still sees it over white
    frames = [colour_photo(seed=seed).convert("P") for seed in range(4)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    assert read_picture(tmp_path / "moving.gif").frames == 4
    assert read_picture(tmp_path / "rgba.png").frames == 1
