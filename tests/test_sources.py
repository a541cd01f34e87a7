import os
import random
from pathlib import Path

import numpy as np
import pytest

from colorlib.sources import (
    capstone_split,
    list_images,
    package_photo_paths,
    resolve_data,
    shared_images,
    split_paths,
)

PATHS = [f"photo_{i:03d}.jpg" for i in range(40)]


def test_split_is_disjoint_and_sized():
    train, val = split_paths(PATHS, n_images=20, val_fraction=0.25, seed=98)
    assert len(train) == 15 and len(val) == 5
    assert shared_images(train, val) == 0
    assert set(map(str, train + val)) <= set(PATHS)


def test_split_takes_all_images_by_default():
    train, val = split_paths(PATHS, val_fraction=0.25, seed=1)
    assert sorted(map(str, train + val)) == sorted(PATHS)


def test_split_ignores_listing_order():
    shuffled = PATHS[:]
    random.Random(3).shuffle(shuffled)
    assert split_paths(PATHS, 20, 0.25, 98) == split_paths(shuffled, 20, 0.25, 98)


def test_split_follows_the_capstones_draw():
    np.random.seed(98)
    chosen = np.random.choice(np.array(sorted(PATHS)), 20, replace=False)
    order = np.random.permutation(20)
    train, val = split_paths(PATHS, 20, 0.25, 98)
    assert [str(p) for p in train] == list(chosen[order[:15]])
    assert [str(p) for p in val] == list(chosen[order[15:]])


def test_capstone_split_validates_on_training_images():
    train, val = capstone_split(PATHS, 20, 0.25, 98)
    assert train == val
    assert train == split_paths(PATHS, 20, 0.25, 98)[0]
    assert shared_images(train, val) == 15


@pytest.mark.parametrize("kwargs, message", [
    ({"n_images": 50}, "only 40"),
    ({"val_fraction": 1.0}, "between 0 and 1"),
    ({"n_images": 1}, "too few"),
])
def test_split_refuses_impossible_requests(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_paths(PATHS, **{"val_fraction": 0.25, **kwargs})


def test_package_photos_are_on_disk():
    paths = package_photo_paths()
    assert len(paths) == 8
    assert {p.stem for p in paths} >= {"astronaut", "chelsea", "china", "grace_hopper"}


def test_list_images_finds_images_recursively(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.PNG", "sub/c.jpeg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a.PNG", "b.jpg", "sub/c.jpeg"]


def test_missing_folder_error_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        list_images(tmp_path / "nowhere")


def test_empty_folder_error_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*holds no images"):
        list_images(tmp_path)


def test_resolve_data_sources(tmp_path, monkeypatch):
    (tmp_path / "x.png").write_bytes(b"x")
    assert resolve_data("samples").name == "samples"
    folder = resolve_data(str(tmp_path))
    assert folder.name == "folder" and folder.paths == (tmp_path / "x.png",)
    monkeypatch.setenv("COLORLIB_DATA", str(tmp_path))
    chosen = resolve_data("auto")
    assert chosen.paths == (tmp_path / "x.png",) and "COLORLIB_DATA" in chosen.reason


def test_auto_falls_back_to_package_photos(monkeypatch):
    monkeypatch.delenv("COLORLIB_DATA", raising=False)
    monkeypatch.setattr("colorlib.sources.coco_sample_folder", lambda download=True: None)
    chosen = resolve_data("auto")
    assert chosen.name == "samples" and len(chosen) == 8
    assert all(Path(p).is_file() for p in chosen.paths)


def test_linked_sub_folders_are_followed_once_and_loops_are_named(tmp_path):
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    for name in ("photos/a.jpg", "photos/sub/b.jpg", "elsewhere/c.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "photos" / "sub" / "loop").symlink_to(tmp_path / "photos", target_is_directory=True)
    (tmp_path / "photos" / "more").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.warns(UserWarning, match=r"1 entry of .*photos left out: .*loop \(a link to a folder "
                                         "already listed"):
        found = list_images(tmp_path / "photos")
    assert [p.relative_to(tmp_path / "photos").as_posix() for p in found] == ["a.jpg", "more/c.jpg", "sub/b.jpg"]


def test_dangling_and_looping_file_links_are_named(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (tmp_path / "ping.jpg").symlink_to(tmp_path / "pong.jpg")
    (tmp_path / "pong.jpg").symlink_to(tmp_path / "ping.jpg")
    with pytest.warns(UserWarning, match=r"3 entries of .* left out: .*gone\.jpg \(a link that leads to no file"):
        assert list_images(tmp_path) == [tmp_path / "a.jpg"]


def test_unreadable_sub_folders_are_named(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.jpg").write_bytes(b"x")
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "locked").chmod(0)
    if os.geteuid() == 0:  # root reads any folder: refuse this one as the system refuses a user
        scandir = os.scandir

        def refuse(path="."):  # path may be a folder's descriptor: shutil.rmtree opens folders by one
            if not isinstance(path, int) and os.fspath(path).endswith("locked"):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", refuse)
    try:
        with pytest.warns(UserWarning, match=r"locked \(unreadable: Permission denied\)"):
            assert [p.name for p in list_images(tmp_path)] == ["a.jpg"]
    finally:
        (tmp_path / "locked").chmod(0o755)
