"""Shared fixtures: real image files of every kind the data path must cope with."""
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Keep the Lab tensor cache of each test session out of the user's cache folder."""
    monkeypatch.setenv("COLORLIB_CACHE", str(tmp_path_factory.getbasetemp() / "lab-cache"))


@pytest.fixture(scope="module", autouse=True)
def module_folders_removed(tmp_path_factory):
    """Remove the folders a module's fixtures made (runs, checkpoints) once its tests are done.

    pytest keeps every ``tmp_path_factory.mktemp`` folder to the session's end, and a run folder's
    checkpoints take hundreds of megabytes: the whole session would need more disk than some
    machines have. The Lab cache is shared by the session and stays.
    """
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    yield
    for folder in set(base.iterdir()) - before:
        if folder.is_symlink():  # pytest's "<name>current" link to the newest folder of a name
            folder.unlink()
        elif folder.name != "lab-cache" and not folder.name.startswith("test_"):
            shutil.rmtree(folder, ignore_errors=True)


def colour_photo(size=(80, 64), seed=0):
    """A smooth, colourful RGB image: gradients in each channel plus a little noise."""
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x / w, y / h, 1 - x / w * 0.5], axis=2) * 255
    rgb += rng.normal(0, 8, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def png_header_only(path, width, height):
    """A PNG whose header claims width x height pixels: enough to trip the bomb check."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


@pytest.fixture
def bad_files(tmp_path):
    """{name: (path, expected outcome)} for one file of each awkward kind."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    return write_awkward_files(folder)


def write_awkward_files(folder):
    """Write one file of each awkward kind into folder; return {name: (path, expected outcome)}."""
    files = {}

    def add(name, outcome):
        files[name] = (folder / name, outcome)
        return folder / name

    colour_photo().save(add("colour.jpg", "kept"), quality=95)
    jpeg = (folder / "colour.jpg").read_bytes()
    add("truncated.jpg", "truncated").write_bytes(jpeg[: len(jpeg) // 2])
    add("notes.jpg", "not_an_image").write_text("this is not a photo\n")
    add("empty.png", "empty").write_bytes(b"")
    colour_photo(seed=1).convert("CMYK").save(add("cmyk.jpg", "kept"))
    grey16 = (np.linspace(0, 65535, 80 * 64).reshape(64, 80)).astype(np.uint16)
    Image.fromarray(grey16).save(add("grey16.png", "greyscale"))
    rgba = colour_photo(seed=2).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(add("rgba.png", "kept"))
    colour_photo(seed=3).convert("P", palette=Image.Palette.ADAPTIVE).save(add("palette.png", "kept"))
    colour_photo(seed=4).convert("L").save(add("grey.jpg", "greyscale"))
    Image.new("RGB", (1, 1), (200, 30, 30)).save(add("tiny.png", "too_small"))
    png_header_only(add("bomb.png", "decompression_bomb"), 20_000, 20_000)
    return files
