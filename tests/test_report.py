import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from colorlib.front_page import index_page
from colorlib.report import NotebookFailed, build_report, notebook_parameters


def write_notebook(path, source):
    cell = new_code_cell(source)
    params = new_code_cell("value = 1")
    params.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[params, cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def test_parameters_use_paths_relative_to_the_notebooks(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "notebooks").mkdir()
    params = notebook_parameters("smoke", tmp_path / "runs" / "x", str(tmp_path / "data"), tmp_path / "notebooks")
    assert params == {"profile": "smoke", "run_dir": os.path.join("..", "runs", "x"),
                      "data": os.path.join("..", "data")}
    assert notebook_parameters("cpu", "runs/cpu", "samples", "notebooks")["data"] == "samples"


@pytest.mark.slow
def test_report_runs_notebooks_in_order_and_indexes_them(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "a.ipynb", "open('order.txt', 'a').write('a')")
    write_notebook(notebooks / "b.ipynb",
                   "open('order.txt', 'a').write('b'); import numpy; numpy.ones(300_000_000, 'u1').sum()")
    run = build_report("smoke", tmp_path / "report", tmp_path / "run", notebooks_dir=notebooks,
                       notebooks=("a", "b"), log=lambda line: None)
    assert (notebooks / "order.txt").read_text() == "ab"
    for name in ("a", "b"):
        assert (tmp_path / "report" / f"{name}.ipynb").is_file()
        assert (tmp_path / "report" / f"{name}.html").is_file()
    index = (tmp_path / "report" / "index.html").read_text()
    assert 'href="a.html"' in index and 'href="b.html"' in index
    assert json.loads((tmp_path / "report" / "run.json").read_text())["parameters"]["profile"] == "smoke"
    assert list(run["wall_time_s"]) == ["a", "b"]
    peaks = run["peak_resident_gb"]  # each kernel's own: b's 0.3 GB of ones are not a's
    assert 0.01 < peaks["a"] < peaks["b"] - 0.25 and run["max_peak_resident_gb"] == peaks["b"]


def test_a_failing_notebook_stops_the_report_and_is_named(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "bad.ipynb", "raise ValueError('no photos here')")
    write_notebook(notebooks / "after.ipynb", "open('ran.txt', 'w')")
    with pytest.raises(NotebookFailed, match="notebook bad failed: ValueError: no photos here"):
        build_report("smoke", tmp_path / "report", tmp_path / "run", notebooks_dir=notebooks,
                     notebooks=("bad", "after"), log=lambda line: None)
    assert not (notebooks / "ran.txt").exists()


def test_index_page_is_a_front_page_without_json(tmp_path):
    (tmp_path / "comparison.png").write_bytes(b"png")
    page = index_page({"parameters": {"profile": "cpu"}, "make_line": "make all PROFILE=cpu",
                       "wall_time_s": {"01_data_and_lab": 60.0, "05_ssim_analysis": 30.0},
                       "environment": {"torch": "x"}}, out_dir=tmp_path)
    assert "1.5 minutes" in page and "make all PROFILE=cpu" in page
    assert 'href="01_data_and_lab.html"' in page and "the L*, a*, b* channels" in page
    assert '<img src="comparison.png"' in page and "before_after.png" not in page
    assert "{" not in page.split("</style>")[1]  # no JSON dump


def test_index_page_sets_the_run_beside_the_capstone(tmp_path):
    run = {"parameters": {"profile": "cpu", "run_dir": "../runs/cpu", "overrides": {"gan_epochs": 2}},
           "make_line": "make all PROFILE=cpu", "data": {"train": 1543, "val": 195},
           "wall_time_s": {"01_data_and_lab": 60.0, "03_pretrain_generator": 1800.0, "04_train_gan": 576.0},
           "environment": {"cpu_count": 2, "cuda": None, "weights": "imagenet"}}
    page = index_page(run, out_dir=tmp_path)
    assert "This run and the capstone" in page and "<td>1,543</td>" in page
    assert "<td>9,000 COCO photos (of 12,000 drawn from fastai&#x27;s 21,837-photo COCO sample)</td>" in page
    assert "<td>30 + 70</td>" in page and "+ 2 (the GAN on 8,000 photos)</td>" in page  # the override reaches it
    assert "<td>one NVIDIA V100 GPU</td><td>2 CPU cores, no GPU</td>" in page
    assert "39.6 minutes (notebooks 03 and 04)" in page
    assert "runs/cpu" not in page and "{" not in page.split("</style>")[1]


def test_readme_results_section_is_rewritten_from_the_run(tmp_path):
    from colorlib.front_page import RESULTS_MARKERS, update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"# Course\n\n{RESULTS_MARKERS[0]}\nold numbers\n{RESULTS_MARKERS[1]}\n\n## Tests\n")
    row = {"mean": 0.9, "low": 0.8, "high": 0.95}
    metrics = {"n_images": 3, "size": 64, "higher_is_better": {"ssim": True, "ciede2000": False, "auc": True},
               "summary": {"grey": {"ssim": row, "ciede2000": row, "auc": row}}}
    (tmp_path / "report").mkdir()
    update_readme(readme, tmp_path / "report", {"make_line": "make all PROFILE=smoke"}, metrics)
    text = readme.read_text()
    assert "old numbers" not in text and "| grey | 0.900 [0.800, 0.950]" in text
    assert text.startswith("# Course") and text.endswith("## Tests\n") and "(report/README.md)" in text
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="no results section"):
        update_readme(readme, tmp_path / "report", {"make_line": ""}, metrics)


def test_report_figures_are_stored_as_jpeg(tmp_path):
    from colorlib.report import compact_figures

    notebook = tmp_path / "figure.ipynb"
    write_notebook(notebook, "import matplotlib.pyplot as plt\nfig = plt.figure(); plt.plot([0, 1])")
    build_report("smoke", tmp_path / "report", tmp_path / "run", notebooks_dir=tmp_path,
                 notebooks=("figure",), log=lambda line: None)
    def outputs():
        cells = nbformat.read(tmp_path / "report" / "figure.ipynb", as_version=4).cells
        return [o for cell in cells for o in cell.get("outputs", [])]

    assert any("image/jpeg" in o.get("data", {}) for o in outputs())
    assert not any("image/png" in o.get("data", {}) for o in outputs())
    before = outputs()
    compact_figures(tmp_path / "report" / "figure.ipynb")  # a second pass changes nothing
    assert outputs() == before


def test_colour_verdict_needs_both_colour_metrics_beaten():
    from colorlib.front_page import colour_verdict

    def row(beats):
        return {"beats_baseline": beats}

    def metrics(pretrained, gan):
        summary = {"grey": {}, "mean_ab": {"ciede2000": row(False), "auc": row(False)},
                   "pretrained": dict(zip(("ciede2000", "auc"), map(row, pretrained))),
                   "gan": dict(zip(("ciede2000", "auc"), map(row, gan)))}
        return {"summary": summary}

    assert colour_verdict(metrics((True, True), (False, True))).startswith(
        "Where colour is measured, pretrained beats grey on both ciede2000 and auc")
    assert colour_verdict(metrics((True, True), (True, True))).startswith(
        "Where colour is measured, pretrained and gan beat grey on both")
    missed = colour_verdict(metrics((False, True), (False, False)))
    assert "no generator beats grey" in missed and "pretrained on auc; gan on neither" in missed
    assert "not met" in missed


def test_calibrated_rows_are_explained_with_their_scales():
    from colorlib.front_page import calibration_lines

    assert calibration_lines({"summary": {}}) == [] and calibration_lines({"calibration": None}) == []
    line, blank = calibration_lines({"calibration": {"folds": 10, "chosen": {"pretrained": 0.5, "gan": 0.7}}})
    assert "10-fold cross-fitting" in line and "Fitted on all of them: pretrained 0.5, gan 0.7." in line
    assert blank == ""


def test_training_time_comes_from_the_histories_so_a_resumed_run_still_says_it(tmp_path):
    from colorlib.front_page import training_time, written_in

    (tmp_path / "pretrain_history.json").write_text(json.dumps([{"epoch": 1, "seconds": 600.0},
                                                                {"epoch": 2, "seconds": 660.0}]))
    (tmp_path / "gan_history.json").write_text(json.dumps([{"epoch": 1, "images_per_s": 9.0}]))  # no time kept
    assert training_time(tmp_path) == (1260.0, "pretraining, from the run's histories")
    run = {"wall_time_s": {"03_pretrain_generator": 60.0, "04_train_gan": 30.0}}
    assert written_in(run, tmp_path).startswith("in 1.5 minutes (training: 21.0 minutes of pretraining")
    assert training_time(tmp_path / "missing") == (None, None)


def test_the_headline_table_shows_the_colour_each_model_paints():
    from colorlib.front_page import headline_cells

    def row(mean, beats=None):
        cell = {"mean": mean, "low": mean - 0.1, "high": mean + 0.1}
        if beats is not None:
            cell.update(difference=0.5, difference_low=0.2, difference_high=0.8, beats_baseline=beats)
        return cell

    def model(colour, beats=None):
        return {"ssim": row(0.9, beats), "ciede2000": row(11.0, beats), "auc": row(0.89, beats),
                "colourfulness": row(colour), "colourfulness_gap": row(colour - 40.0)}

    metrics = {"higher_is_better": {"ssim": True, "ciede2000": False, "auc": True},
               "summary": {"grey": model(0.0), "pretrained": model(25.0, True)}}
    header, rows = headline_cells(metrics)
    assert header[-1] == "colourfulness (the photos': 40.0)"
    assert rows[0][-1] == "0.0 (0%)" and rows[1][-1] == "25.0 (62%)"
    assert "**beats grey**" in rows[1][2] and len(rows[1]) == len(header)


def summary_row(mean, verdict=None, colour=None):
    """A metrics.json row: a mean and, for a model, a paired difference whose interval gives ``verdict``."""
    row = {"mean": mean, "low": mean - 0.1, "high": mean + 0.1}
    if verdict is not None:
        low, high = {"up": (0.1, 0.3), "down": (-0.3, -0.1), "none": (-0.1, 0.1)}[verdict]
        row.update(difference=(low + high) / 2, difference_low=low, difference_high=high)
    return row


def test_the_verdict_says_what_ships_and_what_the_most_colourful_model_does_against_grey():
    from colorlib.front_page import headline_verdict

    def model(colour, ciede=None, auc=None, ssim=None):
        return {"ciede2000": summary_row(11.0, ciede), "auc": summary_row(0.89, auc), "ssim": summary_row(0.9, ssim),
                "colourfulness": summary_row(colour), "colourfulness_gap": summary_row(colour - 40.0)}

    metrics = {"shipped": "pretrained",
               "summary": {"grey": model(0.0), "pretrained": model(20.0, "none", "up", "none"),
                           "gan": model(30.0, "up", "none", "down")}}
    text = headline_verdict(metrics)
    assert text.startswith("The colorizer this run ships, pretrained, paints 50% of the validation photos' own colour")
    assert "it ties on CIEDE2000 (11.00 vs 11.00) and wins on AuC" in text
    assert "The most colourful model, gan, paints 75%; against grey it loses on CIEDE2000" in text  # CIEDE2000 up: worse
    assert "ties on AuC (0.890 vs 0.890) and loses on SSIM (0.900 vs 0.900)" in text
    assert text.count("SSIM (") == 1  # the shipped row is judged where colour is measured only
    assert "against the capstone's published 0.87" in text


def test_the_front_page_leads_with_the_verdict_then_where_to_start(tmp_path):
    (tmp_path / "comparison.png").write_bytes(b"png")
    (tmp_path / "data_manifest.csv").write_text(
        "file,bytes,width,height,split,sha256\n"
        "coco/a.jpg,1,1,1,train,x\nimagenette/b.jpg,1,1,1,train,x\nimagenette/c.jpg,1,1,1,train,x\n"
        "coco/d.jpg,1,1,1,val,x\n")
    run = {"parameters": {"profile": "cpu"}, "make_line": "make all PROFILE=cpu",
           "data": {"source": "folder", "train": 3, "val": 1},
           "wall_time_s": {"01_data_and_lab": 60.0, "07_what_makes_colour_appear": 30.0},
           "environment": {"cpu_count": 2, "cuda": None, "weights": "imagenet"}}
    grey = {name: summary_row(value) for name, value in
            (("ssim", 0.9), ("ciede2000", 11.0), ("auc", 0.89), ("colourfulness", 0.0), ("colourfulness_gap", -40.0))}
    model = {name: summary_row(value, "none") for name, value in (("ssim", 0.9), ("ciede2000", 11.0), ("auc", 0.89))}
    model.update(colourfulness=summary_row(20.0), colourfulness_gap=summary_row(-20.0))
    for row in model.values():
        row.setdefault("beats_baseline", False)
    metrics = {"n_images": 1, "size": 128, "shipped": None, "higher_is_better": {"ssim": True, "ciede2000": False, "auc": True},
               "summary": {"grey": grey, "pretrained": model}}
    page = index_page(run, metrics, out_dir=tmp_path)
    order = [page.index(mark) for mark in ('class="verdict"', '<img src="comparison.png"', "<h2>Start here</h2>",
                                           "<h2>Validation results", "<h2>This run and the capstone</h2>",
                                           "<h2>How this page was made</h2>")]
    assert order == sorted(order)
    assert '<figure class="hero"><img src="comparison.png"' in page  # one figure the page's full width
    assert "cpu_count" not in page and 'href="run.json"' in page  # the machine is run.json's and 01's
    assert '<td data-label="auc (higher is better)">' in page  # a card per model on a narrow screen
    assert "<td>3: 2 imagenette, 1 coco</td>" in page  # the training photos by source, from the manifest
    assert '<li><a href="07_what_makes_colour_appear.html">' in page


def test_a_markdown_table_becomes_an_html_table_with_its_bold():
    from colorlib.front_page import markdown_table_html

    table = markdown_table_html("| lever | CIEDE2000 |\n| --- | --- |\n| a & b | 1.0, **-0.5 [-0.8, -0.2]** |\n")
    assert table == ('<table class="cards"><tr><th>lever</th><th>CIEDE2000</th></tr>'
                     '<tr><td data-label="lever">a &amp; b</td>'
                     '<td data-label="CIEDE2000">1.0, <b>-0.5 [-0.8, -0.2]</b></td></tr></table>')
