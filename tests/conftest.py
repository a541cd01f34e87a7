"""Shared fixtures: real image files of every kind the data path must cope with."""
import shutil
import struct
import zlib

import numpy as np
import pytest
import torch
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


@pytest.fixture(scope="module")
def one_thread():
    """Small networks on tiny photos, batches of one 64 px image: extra threads only wait on each other (on a busy CPU, 10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


# Adobe RGB (1998) as its published ICC profile defines it: primaries adapted to the D50 PCS,
# a D65 media white and one gamma of 563/256 for every channel.
ADOBE_RGB_COLORANTS = {b"rXYZ": (0.60974, 0.31111, 0.01947), b"gXYZ": (0.20528, 0.62567, 0.06087),
                       b"bXYZ": (0.14919, 0.06322, 0.74457), b"wtpt": (0.95045, 1.0, 1.08905)}
ADOBE_RGB_GAMMA = 563 / 256


def adobe_rgb_profile():
    """The bytes of a version-2 ICC display profile of Adobe RGB (1998), built field by field."""
    def xyz(values):
        return b"XYZ " + bytes(4) + b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    description = b"Adobe RGB (1998)\x00"
    tags = {b"desc": b"desc" + bytes(4) + struct.pack(">I", len(description)) + description + bytes(4 + 4 + 2 + 1 + 67),
            b"cprt": b"text" + bytes(4) + b"no copyright, test profile\x00",
            **{sig: xyz(values) for sig, values in ADOBE_RGB_COLORANTS.items()},
            **{sig: b"curv" + bytes(4) + struct.pack(">IH", 1, round(ADOBE_RGB_GAMMA * 256)) + bytes(2)
               for sig in (b"rTRC", b"gTRC", b"bTRC")}}
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for sig, body in tags.items():
        body += bytes(-len(body) % 4)  # every tag starts on a 4-byte boundary
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    d50 = b"".join(struct.pack(">i", round(v * 65536)) for v in (0.9642, 1.0, 0.8249))
    header = (struct.pack(">I", size) + bytes(4) + bytes([2, 0x10, 0, 0]) + b"mntr" + b"RGB " + b"XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8) + struct.pack(">I", 0)
              + d50 + bytes(4) + bytes(44))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_rgb_to_srgb(rgb):
    """Reference conversion of 8-bit Adobe RGB values to 8-bit sRGB, by the published matrices (D65)."""
    linear = (np.asarray(rgb, dtype=np.float64) / 255) ** ADOBE_RGB_GAMMA
    to_xyz = np.array([[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741],
                       [0.0270343, 0.0706872, 0.9911085]])
    to_srgb = np.array([[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])
    srgb = np.clip(linear @ to_xyz.T @ to_srgb.T, 0, 1)
    encoded = np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * srgb ** (1 / 2.4) - 0.055)
    return np.rint(encoded * 255)
