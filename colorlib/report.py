"""The report: run the course's notebooks in order with papermill, then write HTML pages and an index.

``make all`` calls :func:`build_report`; the run's parameters, each notebook's wall time and
the software versions are written beside the notebooks so that a reader can rerun it.
"""
import html
import json
import os
import platform
import shutil
import time
from pathlib import Path

NOTEBOOKS = (
    "01_data_and_lab",
    "02_preprocessing",
    "03_pretrain_generator",
    "04_train_gan",
    "05_ssim_analysis",
    "06_colorize_your_photos",
)
RUN_PRODUCTS = ("split.json", "data_manifest.csv", "pretrain_history.json", "gan_history.json", "metrics.json",
                "per_image.csv")


class NotebookFailed(RuntimeError):
    """A notebook of the report raised; the message names it and the error."""


def build_report(profile, out_dir, run_dir, data=None, notebooks_dir="notebooks", notebooks=NOTEBOOKS,
                 overrides=None, log=print):
    """Execute every notebook into ``out_dir`` and write their HTML pages and an index.

    Parameters
    ----------
    profile : str
        Config profile passed to every notebook (smoke, cpu, paper).
    out_dir : path-like
        Where the executed notebooks, HTML pages and index go.
    run_dir : path-like
        The run folder the notebooks hand checkpoints and histories through.
    data : str, optional
        Data source (auto, coco_sample, samples or a folder); None keeps the profile's.
    notebooks_dir : path-like
        Folder of the source notebooks; they run with it as working directory.
    notebooks : sequence of str
        Notebook names, without ``.ipynb``, in the order they run.
    overrides : dict, optional
        Config fields to change in every notebook, e.g. ``{"size": 96}``.

    Raises
    ------
    NotebookFailed
        When a notebook raises: later notebooks are not run.
    """
    import papermill

    notebooks_dir, out_dir = Path(notebooks_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = notebook_parameters(profile, run_dir, data, notebooks_dir)
    if overrides:
        parameters["overrides"] = overrides
    timings = {}
    for name in notebooks:
        log(f"running {name} ...")
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                notebooks_dir / f"{name}.ipynb", out_dir / f"{name}.ipynb", parameters=parameters,
                cwd=notebooks_dir, progress_bar=False, kernel_name="python3",
            )
        except papermill.PapermillExecutionError as error:
            raise NotebookFailed(f"notebook {name} failed: {error.ename}: {error.evalue}") from None
        timings[name] = round(time.perf_counter() - start, 1)
        log(f"  {name} took {timings[name]:.0f} s")
        write_html(out_dir / f"{name}.ipynb", out_dir / f"{name}.html")
    for product in RUN_PRODUCTS:
        if (Path(run_dir) / product).is_file():
            shutil.copy(Path(run_dir) / product, out_dir / product)
    run = {"parameters": parameters, "wall_time_s": timings, "environment": environment()}
    (out_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    (out_dir / "index.html").write_text(index_page(run))
    return run


def notebook_parameters(profile, run_dir, data, notebooks_dir):
    """The papermill parameters; paths are made relative to the notebooks' folder."""
    parameters = {"profile": profile, "run_dir": os.path.relpath(run_dir, notebooks_dir)}
    if data:
        parameters["data"] = os.path.relpath(data, notebooks_dir) if Path(data).is_dir() else data
    return parameters


def write_html(notebook, page):
    """Render an executed notebook as a standalone HTML page."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    Path(page).write_text(body)


def environment():
    """Versions and hardware a run used, for the report."""
    import fastai
    import skimage
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "fastai": fastai.__version__,
        "scikit-image": skimage.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def index_page(run):
    """The report's index: the run's parameters, and a link and wall time per notebook."""
    rows = "\n".join(
        f'<tr><td><a href="{name}.html">{name}</a></td><td>{seconds:.0f} s</td></tr>'
        for name, seconds in run["wall_time_s"].items()
    )
    parameters = html.escape(json.dumps(run["parameters"], indent=2))
    env = html.escape(json.dumps(run["environment"], indent=2))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Automatic image colorization: report</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}td{{padding:.2em 1em}}</style>
</head><body>
<h1>Automatic image colorization: report</h1>
<p>Each notebook of the course, executed by <code>make all</code> with these parameters.</p>
<pre>{parameters}</pre>
<table><tr><th>notebook</th><th>wall time</th></tr>
{rows}
<tr><td>total</td><td>{sum(run["wall_time_s"].values()):.0f} s</td></tr></table>
<h2>Environment</h2><pre>{env}</pre>
</body></html>
"""


