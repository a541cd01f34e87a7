"""Atomic writes: no link followed, no temporary file left by an exception, SIGTERM or SIGKILL."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from colorlib.atomic import write_atomically
from colorlib.cache import LabCache, file_digest
from colorlib.checkpoints import load_checkpoint, save_checkpoint
from conftest import colour_photo

# A child that starts writing `path`, says so, then waits to be signalled mid-write.
WRITER = textwrap.dedent("""
    import sys, time
    from colorlib.atomic import write_atomically

    def write(file):
        file.write(b"half of a new file")
        file.flush()
        print("writing", flush=True)
        time.sleep(60)

    write_atomically(sys.argv[1], write)
""")


def killed_mid_write(path, signum):
    """Run WRITER on path and send it signum once it has written part of the file; its exit code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout.readline() == "writing\n"
    child.send_signal(signum)
    return child.wait(timeout=30)


def test_sigterm_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "gan.pt"
    path.write_bytes(b"the last good checkpoint")
    assert killed_mid_write(path, signal.SIGTERM) == -signal.SIGTERM  # it still dies of SIGTERM
    assert os.listdir(tmp_path) == ["gan.pt"] and path.read_bytes() == b"the last good checkpoint"


def test_a_temporary_left_by_sigkill_goes_with_the_next_write_a_live_ones_stays(tmp_path):
    path = tmp_path / "generator_pretrained.pt"
    assert killed_mid_write(path, signal.SIGKILL) == -signal.SIGKILL
    (stale,) = tmp_path.iterdir()
    assert stale.name.startswith(".generator_pretrained.pt.") and stale.name.endswith(".tmp")
    live = tmp_path / f".generator_pretrained.pt.{os.getpid()}.abc.tmp"  # a write under way in this process
    live.write_bytes(b"")
    save_checkpoint(path, generator={"w": torch.ones(2)})
    assert sorted(os.listdir(tmp_path)) == sorted([path.name, live.name])
    assert torch.equal(load_checkpoint(path)["generator"]["w"], torch.ones(2))


def test_an_exception_mid_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "split.json"
    path.write_text("old")

    def fail(file):
        file.write(b"new")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        write_atomically(path, fail)
    assert os.listdir(tmp_path) == ["split.json"] and path.read_text() == "old"


def test_without_replace_a_file_that_appeared_is_kept(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"another process's output")
    with pytest.raises(FileExistsError):
        write_atomically(path, lambda file: file.write(b"mine"), replace=False)
    assert os.listdir(tmp_path) == ["x.png"] and path.read_bytes() == b"another process's output"
    write_atomically(tmp_path / "y.png", lambda file: file.write(b"mine"), replace=False)
    assert (tmp_path / "y.png").read_bytes() == b"mine" and sorted(os.listdir(tmp_path)) == ["x.png", "y.png"]


def test_a_link_planted_at_a_cache_entry_or_its_old_temporary_name_is_not_followed(tmp_path):
    colour_photo().save(tmp_path / "a.png")
    victim = tmp_path / "victim"
    victim.write_bytes(b"not the cache's")
    cache = LabCache(16, tmp_path / "cache")
    entry = cache.entry(file_digest(tmp_path / "a.png"))
    entry.parent.mkdir(parents=True)
    entry.with_suffix(f".{os.getpid()}.tmp").symlink_to(victim)  # the name colorlib once chose
    tensor = cache.get(tmp_path / "a.png")
    assert victim.read_bytes() == b"not the cache's"
    assert entry.is_file() and not entry.is_symlink() and torch.equal(torch.load(entry), tensor)
