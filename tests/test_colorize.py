"""Colorizing photos at full resolution: every kind of input, kept lightness, exports, the command."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from colorlib import batch, memory, stages
from colorlib import colorizer as cz
from colorlib.checkpoints import save_checkpoint
from colorlib.cli import main
from colorlib.config import get_config
from colorlib.evaluation import write_evaluation
from colorlib.images import ImageRejected, read_rgb
from colorlib.lab import denormalize, fit_to_gamut, in_gamut, lab_to_srgb, lightness, rgb_to_lab
from colorlib.models import GeneratorSpec, build_generator
from colorlib.predict import predict_ab
from conftest import colour_photo, png_header_only, write_awkward_files

SIZE = 64
SPEC = GeneratorSpec(SIZE)
ORIENTATION = 0x0112  # the EXIF tag


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    generator, _ = build_generator(SIZE, imagenet_weights="never", verbose=False)
    return generator.eval()


@pytest.fixture(scope="module")
def checkpoint(generator, tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "generator_pretrained.pt"
    save_checkpoint(path, generator=generator.state_dict(), config=get_config("smoke", size=SIZE).asdict(),
                    weights="random", stage="pretrain")
    return path


@pytest.fixture(scope="module")
def export(checkpoint):
    return cz.export_generator(checkpoint, checkpoint.parent / cz.EXPORT_FILE)


def max_lightness_change(photo, colorized):
    """Largest |L*(result) - L*(photo)| over the pixels; photo and result as uint8 RGB."""
    return np.abs(lightness(np.asarray(colorized) / 255.0) - lightness(photo / 255.0)).max()


def rotated_jpeg(path):
    """An 80 x 64 JPEG whose EXIF says: turn me 90 degrees to see me upright (64 x 80)."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    colour_photo().save(path, exif=exif, quality=95)
    return path


def sixteen_bit():
    return Image.fromarray((np.linspace(0, 65535, 80 * 64).reshape(64, 80)).astype(np.uint16))


def half_transparent():
    rgba = colour_photo(seed=2).convert("RGBA")
    rgba.putalpha(128)
    return rgba


INPUTS = {
    "greyscale": lambda: colour_photo().convert("L"),
    "rgb": lambda: colour_photo(),
    "rgba": half_transparent,
    "palette": lambda: colour_photo(seed=3).convert("P", palette=Image.Palette.ADAPTIVE),
    "16-bit": sixteen_bit,
    "odd size 101 x 67": lambda: colour_photo(size=(101, 67)),
    "odd size 1 x 1": lambda: Image.new("RGB", (1, 1), (200, 30, 30)),
    "uint8 array": lambda: np.asarray(colour_photo()),
    "float array": lambda: np.asarray(colour_photo()) / 255.0,
    "16-bit array": lambda: np.asarray(sixteen_bit()),
}


@pytest.mark.parametrize("kind", INPUTS)
def test_every_kind_of_input_keeps_its_size_and_lightness(kind, generator):
    image = INPUTS[kind]()
    photo = cz.read_input(image).rgb  # its own colours: for the RGBA photo, not composited
    colorized = cz.colorize(image, generator, SPEC)
    assert colorized.mode == ("RGBA" if kind == "rgba" else "RGB")  # transparency is kept
    assert colorized.size == (photo.shape[1], photo.shape[0])
    # The result carries the photo's own L*: only rounding R, G and B to 8 bits moves it.
    assert max_lightness_change(photo, colorized.convert("RGB")) <= cz.LIGHTNESS_TOLERANCE


def colorize_whole(photo, generator, spec):
    """colorize as it was before bands: the whole photo at once in float64 with scikit-image."""
    _, ab = cz.predict_square(photo, generator, spec)
    ab = torch.nn.functional.interpolate(ab, size=photo.shape[:2], mode="bilinear", align_corners=False)[0]
    L, _ = rgb_to_lab(photo)
    return cz.to_uint8(lab_to_srgb(fit_to_gamut(denormalize(L, ab.numpy()))))


def test_colorizing_in_bands_gives_what_the_whole_photo_gave(generator, monkeypatch):
    photo = np.asarray(colour_photo(size=(301, 203), seed=5))
    monkeypatch.setattr(cz, "BAND_PIXELS", 301 * 7)  # 29 bands of 7 rows, the last one shorter
    monkeypatch.setattr(cz, "WIDE_PIXELS", SIZE * 50)  # and chunks of 50 columns, each with its own bands
    banded = np.asarray(cz.colorize(photo, generator, SPEC)).astype(int)
    difference = np.abs(banded - colorize_whole(photo, generator, SPEC))
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3  # float32 against float64: rounding only


def test_arrays_files_and_images_read_alike(tmp_path):
    photo = colour_photo()
    photo.save(tmp_path / "photo.png")
    expected = np.asarray(photo)
    for image in (photo, tmp_path / "photo.png", str(tmp_path / "photo.png"), expected, expected / 255.0):
        assert np.array_equal(cz.read_photo(image), expected)
    transparent = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert (cz.read_photo(transparent) == 255).all()  # composited over white


def test_exif_orientation_gives_an_upright_result(tmp_path, generator):
    path = rotated_jpeg(tmp_path / "rotated.jpg")
    assert Image.open(path).size == (80, 64)
    assert cz.colorize(path, generator, SPEC).size == (64, 80)
    assert cz.colorize(Image.open(path), generator, SPEC).size == (64, 80)


@pytest.mark.parametrize("photo_size, size", [((1200, 900), SIZE), ((101, 67), 32)])
def test_the_generator_sees_the_square_and_the_result_the_full_photo(photo_size, size, generator):
    seen = []
    hook = generator.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    try:
        colorized = cz.colorize(colour_photo(size=photo_size), generator, GeneratorSpec(size))
    finally:
        hook.remove()
    assert seen == [(1, 1, size, size)]
    assert colorized.size == photo_size


def test_full_resolution_keeps_detail_the_model_size_output_loses(generator):
    photo = np.asarray(colour_photo(size=(256, 192)))
    full = np.asarray(cz.colorize(photo, generator, SPEC))
    small = np.asarray(cz.colorize_at_model_size(photo, generator, SPEC))
    assert small.shape == full.shape
    assert max_lightness_change(photo, full) <= cz.LIGHTNESS_TOLERANCE
    assert max_lightness_change(photo, small) > 5 * cz.LIGHTNESS_TOLERANCE  # the noise is gone


def test_fit_to_gamut_keeps_lightness_and_hue_and_only_shrinks_chroma():
    rng = np.random.default_rng(0)
    lab = np.column_stack([rng.uniform(0, 100, 5000), rng.uniform(-150, 150, (5000, 2))])
    lab[:10, 1:] = 0  # greys fit as they are, black and white included
    lab[:2, 0] = [0.0, 100.0]
    fitted = fit_to_gamut(lab)
    assert in_gamut(fitted).all()
    assert np.array_equal(fitted[:, 0], lab[:, 0])
    already = in_gamut(lab)
    assert 0 < already.sum() < len(lab)
    assert np.array_equal(fitted[already], lab[already])
    moved = ~already & (np.hypot(fitted[:, 1], fitted[:, 2]) > 1)
    hue = [np.arctan2(values[moved, 2], values[moved, 1]) for values in (fitted, lab)]
    assert np.allclose(*hue)
    assert (np.hypot(fitted[:, 1], fitted[:, 2]) <= np.hypot(lab[:, 1], lab[:, 2]) + 1e-9).all()


def test_export_round_trip(checkpoint, export, generator):
    state = torch.load(export, weights_only=True)
    assert state["format"] == "colorlib-generator" and state["version"] == 2
    assert set(state) == {"format", "version", "generator", "spec", "config", "weights"}
    assert state["spec"] == SPEC.asdict() and state["config"]["size"] == SIZE and state["weights"] == "random"
    photo = colour_photo(size=(90, 70))
    expected = np.asarray(cz.colorize(photo, generator, SPEC))
    for path in (checkpoint, export):
        loaded, spec = cz.load_colorizer(path)
        assert spec == SPEC and not loaded.training
        assert np.array_equal(np.asarray(cz.colorize(photo, loaded, spec)), expected)


def test_a_version_1_export_is_read_with_the_chroma_scale_beside_its_config(checkpoint, export, tmp_path):
    state = torch.load(export, weights_only=True)
    old = {key: state[key] for key in ("format", "generator", "config", "weights")}
    old |= {"version": 1, "chroma_scale": 0.5}
    torch.save(old, tmp_path / "old.pt")
    assert cz.load_colorizer(tmp_path / "old.pt")[1] == SPEC.replace(chroma_scale=0.5)


@pytest.mark.slow
def test_a_calibrated_export_paints_with_its_chroma_scale(tmp_path, checkpoint, generator):
    faint = cz.export_generator(checkpoint, tmp_path / "faint.pt", chroma_scale=0.5)
    assert torch.load(faint, weights_only=True)["spec"]["chroma_scale"] == 0.5
    loaded, spec = cz.load_colorizer(faint)
    L = torch.linspace(-1, 1, SIZE * SIZE).view(1, 1, SIZE, SIZE)
    assert spec.chroma_scale == 0.5 and torch.equal(predict_ab(loaded, L, spec=spec), 0.5 * predict_ab(generator, L))
    assert cz.load_colorizer(faint, chroma_scale=1.0)[1].chroma_scale == 1.0  # the caller decides
    again = cz.export_generator(faint, tmp_path / "again.pt")
    assert torch.load(again, weights_only=True)["spec"]["chroma_scale"] == 0.5
    for bad in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="expected a finite number >= 0"):
            cz.load_colorizer(faint, chroma_scale=bad)


def test_files_that_are_not_generators_are_refused_by_name(tmp_path, export):
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        cz.load_colorizer(tmp_path / "missing.pt")
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    torch.save({"discriminator": {}}, tmp_path / "other.pt")
    future = torch.load(export, weights_only=True) | {"version": 3}
    torch.save(future, tmp_path / "future.pt")
    torch.save(future | {"version": True}, tmp_path / "not_a_version.pt")
    torch.save({key: value for key, value in future.items() if key != "spec"} | {"version": 2}, tmp_path / "no_spec.pt")
    for name, why in [("notes.pt", "not a checkpoint torch can load"), ("other.pt", "holds no generator"),
                      ("future.pt", "version 3"), ("not_a_version.pt", "version True"),
                      ("no_spec.pt", "version 2 without its generator spec")]:
        with pytest.raises(cz.CheckpointError, match=why) as error:
            cz.load_colorizer(tmp_path / name)
        assert str(tmp_path / name) in str(error.value)
        assert "expected a colorlib training checkpoint" in str(error.value)


@pytest.mark.slow
def test_a_run_folder_gives_its_shipped_then_its_gan_generator_else_trains_one(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(3):
        colour_photo(seed=seed).save(photos / f"photo{seed}.png")
    config = get_config("smoke", data=str(photos), n_images=0, batch_size=2, pretrain_epochs=1)
    run_dir = tmp_path / "run"
    lines = []
    trained, scale = stages.checkpoint_for_run(config, run_dir, log=lines.append)
    assert trained == run_dir / stages.PRETRAINED_FILE and scale == 1.0
    assert cz.load_colorizer(trained)[1].size == config.size
    assert lines[0] == "no generator in the run folder yet: pretraining one (smoke profile)"
    assert stages.checkpoint_for_run(config, run_dir, log=lines.append) == (trained, 1.0) and len(lines) > 1
    (run_dir / stages.GAN_FILE).write_bytes(trained.read_bytes())
    assert stages.checkpoint_for_run(config, run_dir) == (run_dir / stages.GAN_FILE, 1.0)
    # Once evaluated, the row the evaluation ships wins, whichever was trained last, as predicted
    # or calibrated (then with the scale fitted on all the images).
    calibration = {"chosen": {"pretrained": 0.6, "gan": 0.8}}
    for gan_colour, calibrated_colour, best, best_scale in [(10.0, 5.0, stages.PRETRAINED_FILE, 1.0),
                                                           (30.0, 5.0, stages.GAN_FILE, 1.0),
                                                           (30.0, 35.0, stages.PRETRAINED_FILE, 0.6)]:
        colours = {"grey": 0.0, "pretrained": 25.0, "gan": gan_colour, "pretrained_calibrated": calibrated_colour,
                   "gan_calibrated": 5.0}
        write_evaluation(run_dir, shipping_scores(colours), [f"{i}.jpg" for i in range(20)],
                         {"calibration": calibration}, ship=True)
        assert stages.checkpoint_for_run(config, run_dir, log=lines.append) == (run_dir / best, best_scale)
    assert lines[-2] == "the gan generator, as predicted: the one the run's evaluation ships"
    assert lines[-1] == "the pretrained generator, its a*b* scaled by 0.6: the one the run's evaluation ships"


def shipping_scores(colours, truth=40.0):
    """Scores of 20 photos where every generator beats grey on CIEDE2000 and AuC, with these colourfulnesses."""
    noise = np.random.default_rng(0).normal(0, 0.01, 20)
    return {model: {"ciede2000": 11.0 - (model != "grey") + noise, "auc": 0.88 + 0.01 * (model != "grey") + noise,
                    "colourfulness": colour + noise, "colourfulness_gap": colour - truth + noise}
            for model, colour in colours.items()}


def command(*argv):
    return main(["colorize", *map(str, argv)])


def test_command_writes_every_readable_file_and_names_each_failure(tmp_path, export, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    files = write_awkward_files(photos)  # good files, a text file named .jpg, a truncated JPEG, ...
    (photos / "album").mkdir()
    rotated_jpeg(photos / "album" / "rotated.jpg")
    files["album/rotated.jpg"] = (photos / "album" / "rotated.jpg", "kept")
    out = tmp_path / "out"
    assert command(photos, "-o", out, "--checkpoint", export) == 1
    stdout, stderr = capsys.readouterr()
    failing = {name for name, (_, outcome) in files.items()
               if outcome in ("truncated", "not_an_image", "empty", "decompression_bomb")}
    assert failing == {"truncated.jpg", "notes.jpg", "empty.png", "bomb.png"}
    for name, (path, _) in files.items():
        if name in failing:
            assert not (out / name).exists()
            assert sum(line.startswith(f"error: {path}: ") for line in stderr.splitlines()) == 1, name
        else:
            written = Image.open(out / name)
            assert written.format == Image.open(path).format, name  # JPEG stays JPEG, PNG stays PNG
            assert written.size == read_rgb(path).shape[1::-1], name  # upright, full size
            assert written.getexif().get(ORIENTATION, 1) == 1, name
    assert len(stderr.splitlines()) == len(failing)
    assert stdout.startswith(f"colorized {len(files) - 4} of {len(files)} images into {out}; failed: ")
    assert all(str(files[name][0]) in stdout for name in failing)


def test_command_keeps_going_past_missing_inputs_and_never_overwrites_them(tmp_path, checkpoint, capsys):
    colour_photo().save(tmp_path / "photo.png")
    assert command(tmp_path / "photo.png", tmp_path / "gone.png", "-o", tmp_path / "out",
                   "--checkpoint", checkpoint) == 1
    assert (tmp_path / "out" / "photo.png").is_file()
    assert "gone.png: no such file or folder" in capsys.readouterr().err
    before = (tmp_path / "photo.png").read_bytes()
    assert command(tmp_path / "photo.png", "-o", tmp_path, "--checkpoint", checkpoint) == 1
    assert "is one of the inputs; it is never written over" in capsys.readouterr().err
    assert (tmp_path / "photo.png").read_bytes() == before


def test_command_never_writes_over_another_input_nor_through_a_link(tmp_path, checkpoint, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    colour_photo(seed=1).save(tmp_path / "a" / "x.png")
    colour_photo(seed=2).save(tmp_path / "b" / "x.png")
    kept = (tmp_path / "b" / "x.png").read_bytes()
    # a/x.png would land on b/x.png, itself an input: refused, b/x.png byte-identical.
    assert command(tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", "-o", tmp_path / "b",
                   "--checkpoint", checkpoint) == 1
    assert "is one of the inputs" in capsys.readouterr().err
    assert (tmp_path / "b" / "x.png").read_bytes() == kept
    # An output name that is a symlink, or a hard link to an input, is never written through.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.png").symlink_to(tmp_path / "b" / "x.png")
    assert command(tmp_path / "a" / "x.png", "-o", tmp_path / "out", "--checkpoint", checkpoint) == 1
    assert "is a link" in capsys.readouterr().err and (tmp_path / "b" / "x.png").read_bytes() == kept
    (tmp_path / "hard").mkdir()
    os.link(tmp_path / "a" / "x.png", tmp_path / "hard" / "x.png")
    source = (tmp_path / "a" / "x.png").read_bytes()
    assert command(tmp_path / "a" / "x.png", "-o", tmp_path / "hard", "--checkpoint", checkpoint) == 1
    assert (tmp_path / "a" / "x.png").read_bytes() == source


def test_command_succeeds_with_exit_code_zero(tmp_path, checkpoint, capsys):
    colour_photo().save(tmp_path / "photo.jpg")
    assert command(tmp_path / "photo.jpg", "-o", tmp_path / "out", "--checkpoint", checkpoint) == 0
    assert capsys.readouterr().out == f"colorized 1 of 1 images into {tmp_path / 'out'}\n"


def test_command_chroma_scale_zero_paints_grey_and_a_negative_one_is_refused(tmp_path, checkpoint, capsys):
    colour_photo().save(tmp_path / "photo.png")
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", checkpoint,
                   "--chroma-scale", "0") == 0
    grey = np.asarray(Image.open(tmp_path / "out" / "photo.png")).astype(int)
    assert np.abs(grey - grey[..., :1]).max() <= 1  # R = G = B, up to rounding
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out2", "--checkpoint", checkpoint,
                   "--chroma-scale", "-1") == 2
    assert "chroma scale -1.0: expected a finite number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize("make_checkpoint, why", [
    (lambda folder: folder / "missing.pt", "does not exist"),
    (lambda folder: colour_photo().save(folder / "photo.jpg") or folder / "photo.jpg", "not a checkpoint"),
])
def test_command_refuses_a_bad_checkpoint_in_one_line(make_checkpoint, why, tmp_path, capsys):
    colour_photo().save(tmp_path / "photo.png")
    bad = make_checkpoint(tmp_path)
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", bad) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: ") and why in stderr and len(stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_package_api_colorizes_with_a_loaded_generator(export, tmp_path):
    import colorlib

    colour_photo(size=(90, 70)).save(tmp_path / "photo.png")
    generator, spec = colorlib.load_colorizer(export)
    result = colorlib.colorize(tmp_path / "photo.png", generator, spec)
    assert result.size == (90, 70)
    assert np.array_equal(np.asarray(result), np.asarray(cz.colorize(tmp_path / "photo.png", generator, SPEC)))


def test_command_replaces_an_existing_output_only_with_overwrite(tmp_path, checkpoint, capsys):
    colour_photo().save(tmp_path / "photo.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "photo.png").write_bytes(b"someone else's file")
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", checkpoint) == 1
    assert "already exists; give --overwrite to replace it" in capsys.readouterr().err
    assert (tmp_path / "out" / "photo.png").read_bytes() == b"someone else's file"
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", checkpoint, "--overwrite") == 0
    assert Image.open(tmp_path / "out" / "photo.png").size == (80, 64)


def refused_option(tmp_path, checkpoint, capsys, option, value):
    """The command's exit code and message for one bad option; nothing may have been written."""
    colour_photo().save(tmp_path / "photo.png")
    with pytest.raises(SystemExit) as exit_code:
        command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", checkpoint, option, value)
    assert not (tmp_path / "out").exists()
    return exit_code.value.code, capsys.readouterr().err


@pytest.mark.parametrize("size", ["0", "-5", "12", "big", "20000"])
def test_command_refuses_a_bad_size_before_doing_anything(size, tmp_path, checkpoint, capsys):
    code, err = refused_option(tmp_path, checkpoint, capsys, "--size", size)
    assert code == 2
    assert f"--size: {size!r}: expected a whole number of pixels from 32 to 2048" in err


def test_ctrl_c_says_which_images_were_written(tmp_path, checkpoint, capsys, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        colour_photo().save(photos / name)
    calls = []

    def interrupt_on_the_second(image, *args, **kwargs):  # a real SIGINT, as Ctrl-C sends
        calls.append(image)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return colorize(image, *args, **kwargs)

    colorize = cz.colorize
    monkeypatch.setattr(batch, "colorize", interrupt_on_the_second)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C at a terminal raises KeyboardInterrupt.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert command(photos, "-o", tmp_path / "out", "--checkpoint", checkpoint) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    stderr = capsys.readouterr().err
    assert stderr == (f"interrupted: 1 of 3 images written into {tmp_path / 'out'}; not written: "
                      f"{photos / 'b.png'}, {photos / 'c.png'} (no partial file is left)\n")
    assert "checkpoint" not in stderr
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["a.png"]  # no partial file either


def test_a_photo_too_large_for_the_memory_allowed_is_refused_before_decoding(tmp_path, checkpoint, capsys):
    png_header_only(tmp_path / "large.png", 3000, 2000)  # no pixel data: decoding it would say "truncated"
    colour_photo().save(tmp_path / "small.png")
    budget = cz.colorize_budget(SPEC, 100_000_000)
    with pytest.raises(ImageRejected, match="needs more memory than allowed") as error:
        cz.colorize(tmp_path / "large.png", None, SPEC, budget)
    assert error.value.reason == "too_large" and str(tmp_path / "large.png") in str(error.value)
    assert "3000 x 2000 pixels, 6.0 megapixels: about 0.32 GB to colorize, 0.10 GB allowed" in str(error.value)
    assert command(tmp_path / "large.png", tmp_path / "small.png", "-o", tmp_path / "out", "--checkpoint",
                   checkpoint, "--max-memory", "100M") == 1
    assert "large.png: needs more memory than allowed" in capsys.readouterr().err
    assert (tmp_path / "out" / "small.png").is_file() and not (tmp_path / "out" / "large.png").exists()
    assert cz.colorize_budget(SPEC).limit > 0  # the machine's free memory by default


# Run in a fresh process: one that has colorized before reuses memory it holds, and its peak
# would understate what a photo takes.
MEASURE_COLORIZE = """
import sys, numpy as np, torch
from PIL import Image
from colorlib import colorizer, memory
from colorlib.models import GeneratorSpec
width, height, size, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.manual_seed(0)
spec = GeneratorSpec(size)
generator = spec.build().eval()
rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
Image.fromarray(rgb).save(path)
colorizer.colorize(rgb[:8, :8], generator, spec)  # the libraries' own buffers, allocated once
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak restarts from what the process holds now
before = memory.resident_bytes()
colorizer.colorize(path, generator, spec, colorizer.colorize_budget(spec, 1e12))
print(memory.peak_resident_bytes() - before)
"""


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's resettable peak memory")
@pytest.mark.parametrize("width, height, size", [(2_000_000, 1, SIZE), (1, 2_000_000, SIZE), (1414, 1414, SIZE),
                                                 (128, 96, 512)])
def test_colorize_stays_within_its_memory_estimate(width, height, size, tmp_path):
    measured = int(subprocess.run([sys.executable, "-c", MEASURE_COLORIZE, str(width), str(height), str(size),
                                   str(tmp_path / "photo.png")], capture_output=True, text=True, check=True).stdout)
    estimate = cz.colorize_memory(width, height, SPEC.replace(size=size))
    assert measured <= estimate
    if size > SIZE:  # the square dominates: its estimate bounds it closely
        assert estimate < 3 * measured


def test_a_square_larger_than_the_memory_allowed_is_refused_before_any_photo(tmp_path, checkpoint, capsys):
    colour_photo().save(tmp_path / "photo.png")
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", checkpoint,
                   "--size", "2048", "--max-memory", "200M") == 2
    err = capsys.readouterr().err
    assert (f"error: the generator of {checkpoint} needs about 13.91 GB to colorize at a 2048 px square, before any "
            f"photo; 0.21 GB is allowed (--max-memory). Give a smaller --size (the checkpoint's own is {SIZE}).") in err
    assert not (tmp_path / "out").exists()


def test_transparency_is_kept_in_the_saved_png(tmp_path, checkpoint):
    rgba = colour_photo(seed=2).convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, 80).astype(np.uint8), (64, 1))
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "cutout.png")
    assert command(tmp_path / "cutout.png", "-o", tmp_path / "out", "--checkpoint", checkpoint) == 0
    written = Image.open(tmp_path / "out" / "cutout.png")
    assert written.mode == "RGBA" and np.array_equal(np.asarray(written)[..., 3], alpha)
    colours = np.asarray(written.convert("RGB"))
    assert max_lightness_change(np.asarray(rgba.convert("RGB")), colours) <= cz.LIGHTNESS_TOLERANCE


def test_an_animated_gif_gives_its_first_frame_and_says_so(tmp_path, checkpoint, generator, capsys):
    frames = [colour_photo(seed=seed).convert("P") for seed in range(3)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:], duration=100)
    with pytest.warns(UserWarning, match="an animation of 3 frames: only the first is colorized"):
        cz.colorize(tmp_path / "moving.gif", generator, SPEC)
    assert command(tmp_path / "moving.gif", "-o", tmp_path / "out", "--checkpoint", checkpoint) == 0
    stderr = capsys.readouterr().err
    assert stderr == f"warning: {tmp_path / 'moving.gif'}: an animation of 3 frames: only the first is colorized\n"
    assert Image.open(tmp_path / "out" / "moving.gif").size == (80, 64)


def test_an_int_size_where_a_spec_belongs_is_refused_before_the_photo_is_read(generator, tmp_path):
    with pytest.raises(TypeError, match=r"expected a GeneratorSpec .* spec.replace\(size=...\)"):
        cz.colorize(tmp_path / "not_read.png", generator, SIZE)
    with pytest.raises(TypeError, match="expected a GeneratorSpec"):
        predict_ab(generator, torch.zeros(1, 1, SIZE, SIZE), "fp32", 1, SIZE)


def test_a_link_planted_at_the_old_temporary_name_is_never_written_through(tmp_path, checkpoint):
    colour_photo().save(tmp_path / "x.png")
    victim = tmp_path / "victim"
    victim.write_bytes(b"outside the output folder")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / f".x.png.{os.getpid()}.tmp").symlink_to(victim)  # the name colorize once chose
    assert command(tmp_path / "x.png", "-o", tmp_path / "o", "--checkpoint", checkpoint) == 0
    assert victim.read_bytes() == b"outside the output folder"
    assert (tmp_path / "o" / "x.png").is_file() and not (tmp_path / "o" / "x.png").is_symlink()


def test_an_output_sub_folder_that_is_a_link_is_refused(tmp_path, checkpoint, capsys):
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    colour_photo().save(tmp_path / "photos" / "sub" / "x.png")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(tmp_path / "elsewhere")
    for extra in ([], ["--overwrite"]):
        assert command(tmp_path / "photos", "-o", tmp_path / "out", "--checkpoint", checkpoint, *extra) == 1
        assert f"the output folder {tmp_path / 'out' / 'sub'} is a link" in capsys.readouterr().err
        assert not list((tmp_path / "elsewhere").iterdir())


def test_an_output_that_appears_meanwhile_is_kept_and_named(tmp_path, checkpoint, capsys, monkeypatch):
    colour_photo().save(tmp_path / "x.png")

    def another_process_writes_first(source, *args, **kwargs):
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "x.png").write_bytes(b"the other process's output")
        return colorize(source, *args, **kwargs)

    colorize = cz.colorize
    monkeypatch.setattr(batch, "colorize", another_process_writes_first)
    assert command(tmp_path / "x.png", "-o", tmp_path / "out", "--checkpoint", checkpoint) == 1
    assert "appeared while it was colorized (another process?); it is kept" in capsys.readouterr().err
    assert (tmp_path / "out" / "x.png").read_bytes() == b"the other process's output"
    assert os.listdir(tmp_path / "out") == ["x.png"]


def test_an_output_folder_inside_the_input_folder_is_not_colorized_again(tmp_path, checkpoint, capsys):
    colour_photo().save(tmp_path / "x.png")
    for _ in range(2):
        assert command(tmp_path, "-o", tmp_path / "out", "--checkpoint", checkpoint, "--overwrite") == 0
        assert capsys.readouterr().out == f"colorized 1 of 1 images into {tmp_path / 'out'}\n"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == ["out/x.png", "x.png"]


def test_an_input_without_a_writable_extension_is_refused_before_the_work(tmp_path, checkpoint, capsys, monkeypatch):
    colour_photo().save(tmp_path / "photo", "PNG")
    monkeypatch.setattr(batch, "colorize", None)  # colorizing it would fail loudly
    assert command(tmp_path / "photo", "-o", tmp_path / "out", "--checkpoint", checkpoint) == 1
    assert capsys.readouterr().err == (f"error: {tmp_path / 'photo'}: the output {tmp_path / 'out' / 'photo'} has no "
                                       "extension, not an image format Pillow writes; name the input with its "
                                       "format's extension (.jpg, .png, ...)\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("memory", ["0.5", "0", "1e-3", "inf"])
def test_a_max_memory_below_one_byte_is_refused_not_taken_as_no_limit(memory, tmp_path, checkpoint, capsys):
    code, err = refused_option(tmp_path, checkpoint, capsys, "--max-memory", memory)
    assert code == 2
    assert f"--max-memory: {memory!r}: expected a memory size of at least 1 byte" in err
    assert cz.colorize_budget(SPEC, 0).limit == 0  # a limit of 0 checks, and refuses every photo


@pytest.mark.parametrize("scale", ["1e300", "1e18", "11"])
def test_an_absurd_chroma_scale_is_refused_before_anything_is_written(scale, tmp_path, checkpoint, capsys):
    colour_photo().save(tmp_path / "photo.png")
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", checkpoint,
                   "--chroma-scale", scale) == 2
    assert f"chroma scale {float(scale)!r}: expected a finite number >= 0 and at most 10" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_whose_spec_is_too_large_is_refused_by_name(tmp_path, generator, capsys):
    bad = tmp_path / "huge.pt"
    save_checkpoint(bad, generator=generator.state_dict(), config=get_config("smoke", size=SIZE).asdict(),
                    spec={**SPEC.asdict(), "size": 100_000})
    colour_photo().save(tmp_path / "photo.png")
    assert command(tmp_path / "photo.png", "-o", tmp_path / "out", "--checkpoint", bad) == 2
    stderr = capsys.readouterr().err
    assert f"error: {bad}: its generator spec is not valid (generator size 100000" in stderr and "at most 2048" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", ["0", "-1", "16", "20000"])
def test_evaluate_refuses_a_size_that_would_silently_be_the_default(size, checkpoint, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["evaluate", "--checkpoint", str(checkpoint), "--size", size])
    assert exit_code.value.code == 2
    assert f"--size: {size!r}: expected a whole number of pixels from 32 to 2048" in capsys.readouterr().err


def test_ctrl_c_during_colorize_says_what_is_kept_and_not_how_to_resume(tmp_path, monkeypatch, capsys):
    from colorlib import cli

    def interrupted(args):  # Ctrl-C while the checkpoint loads, before any photo
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_colorize", interrupted)
    assert main(["colorize", str(tmp_path / "x.jpg"), "-o", str(tmp_path / "out"), "--checkpoint", "c.pt"]) == 130
    message = capsys.readouterr().err
    assert "none is half-written" in message and "resume" not in message and not (tmp_path / "out").exists()
