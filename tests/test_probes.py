"""Faults made for real, as an attacker or a careless user would make them: planted links at every
output name, folder names that are markup, a report that fails half-way, too few photos for a
verdict, and the odd settings and files each command must answer with a clear message.
"""
import csv
import html
import json
import os
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook
from PIL import Image

from colorlib.cache import LabCache
from colorlib.checkpoints import SPLIT_FILE, save_checkpoint
from colorlib.cli import main
from colorlib.config import get_config
from colorlib.evaluation import write_evaluation
from colorlib.markup import csv_text, markdown_code, markdown_text
from colorlib.models import build_generator
from colorlib.report import NOTEBOOKS, NotebookFailed, build_report
from colorlib.sources import list_images
from colorlib.splits import make_split
from colorlib.statistics import MIN_VERDICT_IMAGES
from conftest import colour_photo

ROOT = Path(__file__).resolve().parents[1]
VICTIM_TEXT = b"a file outside every output folder"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random-weight smoke generator's checkpoint, alone in a run folder."""
    torch.manual_seed(0)
    generator, _ = build_generator(64, imagenet_weights="never", verbose=False)
    path = tmp_path_factory.mktemp("run") / "generator_pretrained.pt"
    save_checkpoint(path, generator=generator.state_dict(), config=get_config("smoke").asdict(),
                    weights="random", stage="pretrain")
    return path


def write_photos(folder, n, size=(72, 64), name="photo_{}.png"):
    """n distinct colour photos in folder (made if needed); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name.format(i) for i in range(n)]
    for seed, path in enumerate(paths):
        colour_photo(size, seed=seed).save(path)
    return paths


def plant_links(folder, names, victim):
    """A link at each name in folder, every one pointing at victim."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).symlink_to(victim)


def victim_file(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM_TEXT)
    return victim


def assert_replaced_not_followed(folder, names, victim):
    assert victim.read_bytes() == VICTIM_TEXT
    for name in names:
        assert (folder / name).is_file() and not (folder / name).is_symlink(), name


def folder_bytes(folder):
    """{relative path: bytes} of every file below folder."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def write_notebook(path, source):
    """A notebook with a parameters cell (profile and run_dir, as the report injects them) and one cell."""
    params = new_code_cell("profile = 'smoke'\nrun_dir = None")
    params.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[params, new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


# -- Planted links at every output name ----------------------------------------------------------

def test_evaluate_replaces_links_planted_at_its_outputs_and_never_writes_through_them(checkpoint, tmp_path):
    photos = write_photos(tmp_path / "photos", 3)
    victim, out = victim_file(tmp_path), tmp_path / "out"
    names = ["metrics.json", "per_image.csv"]
    plant_links(out, names, victim)
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(photos[0].parent), "--out", str(out),
                 "--device", "cpu"]) == 0
    assert_replaced_not_followed(out, names, victim)


@pytest.mark.slow  # trains one tiny epoch of each stage
def test_train_replaces_links_planted_at_its_outputs_and_refuses_a_linked_lock(tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", 8)
    victim, run_dir = victim_file(tmp_path), tmp_path / "run"
    names = ["split.json", "data_manifest.csv", "generator_pretrained.pt", "pretrain_history.json", "gan.pt",
             "gan_history.json"]
    plant_links(run_dir, names, victim)
    overrides = "n_images=0 size=32 pretrain_epochs=1 gan_epochs=1 display_every=0 ssim_images=1 resume=false"
    command = ["train", "--data", str(photos[0].parent), "--run-dir", str(run_dir), "--overrides", overrides]
    assert main(command) == 0
    assert_replaced_not_followed(run_dir, names, victim)
    (run_dir / ".lock").unlink()
    (run_dir / ".lock").symlink_to(victim)
    assert main(command) == 1
    assert "the run lock" in capsys.readouterr().err and victim.read_bytes() == VICTIM_TEXT


def test_colorize_never_writes_through_a_link_planted_at_its_output(checkpoint, tmp_path, capsys):
    photo = write_photos(tmp_path / "photos", 1)[0]
    victim, out = victim_file(tmp_path), tmp_path / "out"
    plant_links(out, [photo.name], victim)
    assert main(["colorize", str(photo), "-o", str(out), "--checkpoint", str(checkpoint), "--overwrite"]) == 1
    assert "is a link" in capsys.readouterr().err and victim.read_bytes() == VICTIM_TEXT


@pytest.mark.slow  # starts a notebook kernel
def test_a_report_replaces_links_planted_at_its_outputs_and_lets_its_notebooks_lock_the_run(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "a.ipynb", "from colorlib.checkpoints import run_lock\n"
                                          "with run_lock(run_dir):\n    open('locked.txt', 'w').close()")
    victim, out, run_dir = victim_file(tmp_path), tmp_path / "report", tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text("{}")  # a product the report copies
    names = ["a.ipynb", "a.html", "run.json", "index.html", "README.md", "metrics.json"]
    plant_links(out, names, victim)
    build_report("smoke", out, run_dir, notebooks_dir=notebooks, notebooks=("a",), log=lambda line: None)
    assert_replaced_not_followed(out, names, victim)
    assert (notebooks / "locked.txt").is_file()  # the kernel ran under the report's own lock
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report")]  # no staging folder left


def test_a_figure_the_notebooks_hand_to_the_report_replaces_a_link_planted_at_its_name(tmp_path):
    import matplotlib.pyplot as plt

    from colorlib.plots import save_figure

    victim, run_dir = victim_file(tmp_path), tmp_path / "run"
    names = ["gray_fake_real.png", "comparison.png", "before_after.png", "budget_curve.png"]
    plant_links(run_dir, names, victim)
    fig, _ = plt.subplots(figsize=(1, 1))
    for name in names:
        save_figure(fig, run_dir / name)
    plt.close(fig)
    assert_replaced_not_followed(run_dir, names, victim)
    assert Image.open(run_dir / names[0]).format == "PNG"


# -- A report replaced whole or not at all -------------------------------------------------------

def old_report(tmp_path):
    """A report folder from an earlier run, and its bytes."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("<p>the last good run</p>")
    (out / "01_data_and_lab.ipynb").write_text("{}")
    return out, folder_bytes(out)


@pytest.mark.slow  # starts two notebook kernels
def test_a_notebook_that_fails_leaves_the_old_report_byte_for_byte_and_says_where_it_is(tmp_path):
    out, before = old_report(tmp_path)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "good.ipynb", "1 + 1")
    write_notebook(notebooks / "bad.ipynb", "raise ValueError('no photos here')")
    with pytest.raises(NotebookFailed) as failed:
        build_report("smoke", out, tmp_path / "run", notebooks_dir=notebooks, notebooks=("good", "bad"),
                     log=lambda line: None)
    assert folder_bytes(out) == before
    assert str(tmp_path / "report.failed") in str(failed.value) and f"{out} is unchanged" in str(failed.value)
    assert "no photos here" in (tmp_path / "report.failed" / "bad.ipynb").read_text()
    assert (tmp_path / "report.failed" / "good.html").is_file()


def test_make_all_with_data_that_fails_leaves_the_report_byte_for_byte(tmp_path):
    out, before = old_report(tmp_path)
    make = subprocess.run(["make", "-s", "-C", str(ROOT), "all", "PROFILE=smoke", f"DATA={tmp_path / 'nonexistent'}",
                           f"REPORT={out}", f"RUN_DIR={tmp_path / 'run'}"], capture_output=True, text=True)
    assert make.returncode != 0 and folder_bytes(out) == before
    assert f"image folder {tmp_path / 'nonexistent'} does not exist" in make.stderr
    assert "Traceback" not in make.stderr and sorted(p.name for p in tmp_path.iterdir()) == ["report"]


@pytest.mark.parametrize("settings, message", [
    ({"data": "emptydir"}, "image folder emptydir holds no images"),  # named as given, not as ../../emptydir
    ({"data": "photo.png"}, "image folder photo.png is a file, not a folder"),
    ({"overrides": {"seed": -1}}, "seed must be a whole number from 0 to 2\\*\\*32 - 1, got -1"),
    ({"overrides": {"extra_train_data": "missing"}}, "image folder missing does not exist"),
])
def test_settings_notebook_01_would_refuse_are_refused_before_any_notebook(settings, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "emptydir").mkdir()
    colour_photo().save(tmp_path / "photo.png")
    out, before = old_report(tmp_path)
    with pytest.raises((ValueError, OSError), match=message):
        build_report("smoke", out, tmp_path / "run", notebooks_dir=tmp_path / "no notebooks", log=print, **settings)
    assert folder_bytes(out) == before and not (tmp_path / "run").exists()


def test_a_second_report_on_a_run_folder_in_use_is_refused_before_its_first_notebook(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from colorlib.checkpoints import run_lock
        with run_lock({str(tmp_path / 'run')!r}):
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline() == "locked\n"
        out, before = old_report(tmp_path)
        with pytest.raises(RuntimeError, match="is in use by another process"):
            build_report("smoke", out, tmp_path / "run", notebooks_dir=tmp_path / "no notebooks",
                         log=lambda line: None)
        assert folder_bytes(out) == before
    finally:
        holder.kill()
        holder.wait()


# -- No markup from folder names ------------------------------------------------------------------

class LiveTags(HTMLParser):
    """The tags of a page that a folder name could have planted: img and svg, and any on* handler."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "svg") and any(name.startswith("on") or value == "x" for name, value in attrs):
            self.found.append((tag, attrs))
        elif any(name.startswith("on") for name, _ in attrs):
            self.found.append((tag, attrs))


def live_tags(page):
    parser = LiveTags()
    parser.feed(Path(page).read_text())
    return parser.found


@pytest.mark.slow  # runs notebook 01 on the smoke profile
def test_the_smoke_report_on_folders_named_with_markup_holds_no_live_tag(tmp_path):
    data = tmp_path / "`<img src=x onerror=alert(3)>`"
    write_photos(data / "<svg onload=alert(2)>", 4, size=(96, 80))
    write_photos(data, 4, size=(96, 80), name="*{}_<b>.png")
    extra = tmp_path / "extra `<svg onload=alert(4)>` |x|"
    write_photos(extra, 3, size=(96, 80))
    out = tmp_path / "report"
    build_report("smoke", out, tmp_path / "run", data=str(data), notebooks_dir=ROOT / "notebooks",
                 notebooks=NOTEBOOKS[:1], overrides={"extra_train_data": str(extra)}, log=lambda line: None)
    for page in ("01_data_and_lab.html", "index.html"):
        assert live_tags(out / page) == [], page
    page = (out / "01_data_and_lab.html").read_text()
    assert "`&lt;img src=x onerror=alert(3)&gt;`</code>" in page  # the name is shown, as text
    assert "<img src=x" not in (out / "README.md").read_text()


def test_markdown_text_shows_a_name_exactly_and_never_as_markup():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    name = "../`<img src=x onerror=alert(3)>`|*a*_b_ [l](u) $x$ & ~~s~~"
    for markdown in (markdown_text(name), markdown_code(name), f"| h |\n| --- |\n| {markdown_code(name)} |"):
        page = markdown2html_mistune(markdown)
        assert "<img" not in page and "<em>" not in page and "<a " not in page and "<del>" not in page
    assert markdown2html_mistune(markdown_text(name)) == f"<p>{html.escape(name, quote=False)}</p>\n"


# -- Spreadsheet formulas in CSV ------------------------------------------------------------------

def test_a_photo_named_like_a_formula_is_written_to_csv_as_text(tmp_path):
    photos = write_photos(tmp_path / "photos", 3, name="=HYPERLINK(\"x\"){}.png")
    photos += write_photos(tmp_path / "photos", 1, name="@SUM(A1){}.png")
    config = get_config("smoke", data=str(tmp_path / "photos"), n_images=0)
    make_split(config, tmp_path / "run", log=lambda line: None)
    with open(tmp_path / "run" / "data_manifest.csv", newline="") as file:
        names = [row["file"] for row in csv.DictReader(file)]
    assert sorted(names) == sorted("'" + p.name for p in photos)
    scores = {"grey": {"ciede2000": np.array([1.0])}}
    write_evaluation(tmp_path / "out", scores, ["-2+3.png"])
    assert (tmp_path / "out" / "per_image.csv").read_text().splitlines()[1].startswith("'-2+3.png,grey,1.0")
    assert csv_text([["a", -1.5, "+x"]]) == "a,-1.5,'+x\r\n"  # numbers stay numbers


# -- evaluate: size, memory, too few photos, odd splits and outputs -------------------------------

def test_evaluate_refuses_a_size_whose_batches_would_not_fit_before_reading_any_image(checkpoint, tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", 2)
    out = tmp_path / "out"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(photos[0].parent), "--out", str(out),
                 "--size", "2048", "--max-memory", "1G", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: scoring at --size 2048 needs about") and "give --size" in err
    assert "Traceback" not in err and not out.exists()


def test_evaluate_gives_no_verdict_from_fewer_photos_than_the_minimum(checkpoint, tmp_path, capsys):
    few = write_photos(tmp_path / "few", 1)
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(few[0].parent),
                 "--out", str(tmp_path / "few_out"), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert f"too few for a verdict against grey (it needs at least {MIN_VERDICT_IMAGES})" in printed
    assert "[" not in printed.split("ssim (higher is better)")[1]  # means only: no interval
    metrics = json.loads((tmp_path / "few_out" / "metrics.json").read_text())
    assert metrics["summary"]["pretrained"]["ciede2000"]["beats_baseline"] is None

    enough = write_photos(tmp_path / "enough", MIN_VERDICT_IMAGES, size=(40, 40))
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(enough[0].parent),
                 "--out", str(tmp_path / "enough_out"), "--device", "cpu"]) == 0
    assert "too few" not in capsys.readouterr().out
    metrics = json.loads((tmp_path / "enough_out" / "metrics.json").read_text())
    assert isinstance(metrics["summary"]["pretrained"]["ciede2000"]["beats_baseline"], bool)
    assert "verdicts_withheld" not in metrics


@pytest.mark.parametrize("split", [{"train": []}, [], {"train": [], "val": "a.png"}])
def test_evaluate_names_a_split_without_its_lists(split, checkpoint, tmp_path, capsys):
    (checkpoint.parent / SPLIT_FILE).write_text(json.dumps(split))
    try:
        assert main(["evaluate", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out")]) == 1
    finally:
        (checkpoint.parent / SPLIT_FILE).unlink()
    err = capsys.readouterr().err
    assert f"{SPLIT_FILE} holds" in err and 'expected the "train" and "val" lists' in err and "Traceback" not in err


def test_evaluate_and_colorize_refuse_an_output_that_is_a_file_before_any_work(checkpoint, tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", 1)
    victim = victim_file(tmp_path)
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(photos[0].parent),
                 "--out", str(victim)]) == 1
    assert f"--out {victim} is a file, not a folder" in capsys.readouterr().err
    assert main(["colorize", str(photos[0]), "-o", str(victim), "--checkpoint", str(checkpoint)]) == 2
    assert f"-o {victim} is a file, not a folder" in capsys.readouterr().err
    assert victim.read_bytes() == VICTIM_TEXT


@pytest.mark.parametrize("output", ["photos", "link", "photos/.."])
def test_colorize_refuses_an_output_folder_that_is_its_input_or_holds_it(output, checkpoint, tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", 2)
    (tmp_path / "link").symlink_to(tmp_path / "photos")
    before = folder_bytes(tmp_path / "photos")
    assert main(["colorize", str(tmp_path / "photos"), "-o", str(tmp_path / output), "--checkpoint",
                 str(checkpoint)]) == 1
    err = capsys.readouterr().err
    assert f"the output folder {tmp_path / output} is this input folder or holds it" in err
    assert folder_bytes(tmp_path / "photos") == before and len(photos) == 2


# -- The other odd inputs, each with a clear message ----------------------------------------------

def test_a_fifo_and_a_link_to_a_device_in_a_folder_are_named_as_such(tmp_path):
    photo = write_photos(tmp_path / "photos", 1)[0]
    os.mkfifo(tmp_path / "photos" / "pipe.jpg")
    (tmp_path / "photos" / "zero.png").symlink_to("/dev/zero")
    with pytest.warns(UserWarning) as caught:
        assert list_images(tmp_path / "photos") == [photo]
    message = str(caught[0].message)
    assert "pipe.jpg (not a regular file: a FIFO)" in message
    assert "zero.png (not a regular file: a link to a device)" in message


def test_an_unwritable_cache_folder_is_named_and_the_photo_still_read(tmp_path):
    (tmp_path / "not a folder").write_text("a file where the cache folder would go")
    photo = write_photos(tmp_path / "photos", 1)[0]
    with pytest.warns(UserWarning, match="the Lab cache folder .*not a folder cannot be written"):
        tensor = LabCache(32, tmp_path / "not a folder").get(photo)
    assert tensor.shape == (3, 32, 32)


@pytest.mark.parametrize("option", ["--batch-size", "--steps"])
def test_bench_refuses_a_count_below_one(option, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["bench", option, "0"])
    assert exit_code.value.code == 2
    assert f"{option}: '0': expected a whole number of 1 or more" in capsys.readouterr().err


def test_make_passes_data_as_typed_without_expanding_dollars(tmp_path):
    make = subprocess.run(["make", "-s", "-C", str(ROOT), "all", "PYTHON=printf '[%s]'", "DATA=x$HOME it's",
                           "OVERRIDES=seed=1", f"REPORT={tmp_path / 'r'}"], capture_output=True, text=True)
    assert "[--data][x$HOME it's][--overrides][seed=1]" in make.stdout, make.stdout + make.stderr
