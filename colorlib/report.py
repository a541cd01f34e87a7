"""The report: run the course's notebooks in order with papermill, then write HTML pages and an index.

``make all`` calls :func:`build_report`; the run's parameters, each notebook's wall time and
the software versions are written beside the notebooks so that a reader can rerun it.
"""
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from colorlib.atomic import output_folder, replace_folder, staging_folder, write_file
from colorlib.checkpoints import run_lock, save_json
from colorlib.config import get_config
from colorlib.front_page import index_page, summary_page, update_readme
from colorlib.memory import peak_resident_bytes
from colorlib.splits import check_run_settings

NOTEBOOKS = (
    "01_data_and_lab",
    "02_preprocessing",
    "03_pretrain_generator",
    "04_train_gan",
    "05_ssim_analysis",
    "06_colorize_your_photos",
    "07_what_makes_colour_appear",
)
# Small files of the run copied beside the notebooks (split.json stays: it holds this machine's paths).
RUN_PRODUCTS = ("data_manifest.csv", "pretrain_history.json", "gan_history.json", "metrics.json", "per_image.csv",
                "study.json", "gray_fake_real.png", "comparison.png", "before_after.png", "budget_curve.png")


class NotebookFailed(RuntimeError):
    """A notebook of the report raised; the message names it, the error, and where the executed notebook is."""


def build_report(profile, out_dir, run_dir, data=None, notebooks_dir="notebooks", notebooks=NOTEBOOKS,
                 overrides=None, readme=None, log=print):
    """Execute every notebook into ``out_dir`` and write their HTML pages and an index.

    The report is built in a staging folder beside ``out_dir`` and put in its place only when
    every notebook and page succeeded (:func:`colorlib.atomic.replace_folder`): a failed run
    leaves the old report as it was, byte for byte, and its notebooks, the failed one with its
    error, in ``<out_dir>.failed`` (replacing an older failure's). The run folder is locked
    (:func:`colorlib.checkpoints.run_lock`) from before the first notebook to the last, so a
    second report on it is refused before it writes anything.

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
    readme : path-like, optional
        A README whose results section (between :data:`RESULTS_MARKERS`) is rewritten from this run.

    Raises
    ------
    NotebookFailed
        When a notebook raises: later notebooks are not run.
    ValueError, OSError
        Before the first notebook, for settings notebook 01 would refuse
        (:func:`colorlib.splits.check_run_settings`) or an ``out_dir`` that is a file.
    RuntimeError
        When another process holds the run folder.
    """
    notebooks_dir, out_dir = Path(notebooks_dir), output_folder(out_dir, "the report folder")
    check_run_settings(get_config(profile, data=data, **(overrides or {})))
    parameters = notebook_parameters(profile, run_dir, data, notebooks_dir)
    if overrides:
        # Folders given on the make line are relative to where make runs; the notebooks run in theirs.
        parameters["overrides"] = {k: relative_folders(v, notebooks_dir) for k, v in overrides.items()}
    with run_lock(run_dir, children=True):
        staging = staging_folder(out_dir)
        try:
            timings, peaks = run_notebooks(notebooks, notebooks_dir, staging, parameters, log)
            run = write_pages(staging, run_dir, parameters, make_line(profile, data, overrides), timings, peaks)
        except NotebookFailed as error:
            failed = out_dir.with_name(out_dir.name + ".failed")
            replace_folder(staging, failed)
            raise NotebookFailed(f"{error}; {out_dir} is unchanged, and the executed notebooks, the failed one "
                                 f"with its error, are in {failed}") from None
        except BaseException:
            shutil.rmtree(staging)
            raise
        replace_folder(staging, out_dir)
    metrics = json.loads((out_dir / "metrics.json").read_text()) if (out_dir / "metrics.json").is_file() else None
    if readme and metrics:
        update_readme(readme, out_dir, run, metrics)
    return run


def run_notebooks(notebooks, notebooks_dir, out_dir, parameters, log=print):
    """Execute the notebooks in order into out_dir, each followed by its HTML page.

    Returns
    -------
    timings, peaks : dict
        Each notebook's wall time (s) and its kernel's peak resident memory (GB, or None).

    Raises
    ------
    NotebookFailed
        Naming the first notebook that raised, and its error.
    """
    import papermill
    from jupyter_client.manager import KernelManager

    timings, peaks = {}, {}
    sockets = tempfile.TemporaryDirectory(prefix="colorlib-kernels-")
    for name in notebooks:
        log(f"running {name} ...")
        start = time.perf_counter()
        # The kernel is ours, not papermill's, so that its peak memory can be read before it stops.
        kernel = KernelManager(kernel_name="python3", **local_transport(sockets))
        try:
            papermill.execute_notebook(
                notebooks_dir / f"{name}.ipynb", out_dir / f"{name}.ipynb", parameters=parameters,
                cwd=notebooks_dir, progress_bar=False, kernel_name="python3", km=kernel,
            )
            peaks[name] = kernel_peak_gb(kernel)
        except papermill.PapermillExecutionError as error:
            raise NotebookFailed(f"notebook {name} failed: {error.ename}: {error.evalue}") from None
        except Exception as error:  # the kernel died (out of memory?) or timed out
            raise NotebookFailed(f"notebook {name} failed: {type(error).__name__}: {error}") from None
        finally:
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
        timings[name] = round(time.perf_counter() - start, 1)
        log(f"  {name} took {timings[name]:.0f} s, peak memory {peaks[name]} GB")
        forget_paths(out_dir / f"{name}.ipynb")
        compact_figures(out_dir / f"{name}.ipynb")
        write_html(out_dir / f"{name}.ipynb", out_dir / f"{name}.html")
    sockets.cleanup()
    return timings, peaks


def write_pages(out_dir, run_dir, parameters, line, timings, peaks):
    """Copy the run's products beside the notebooks and write ``run.json``, ``index.html`` and ``README.md``.

    Returns
    -------
    dict
        What ``run.json`` holds.
    """
    for product in RUN_PRODUCTS:
        if (Path(run_dir) / product).is_file():
            write_file(out_dir / product, (Path(run_dir) / product).read_bytes())
    run = {"parameters": parameters, "make_line": line, "wall_time_s": timings,
           "total_wall_time_s": round(sum(timings.values()), 1),
           "peak_resident_gb": peaks, "max_peak_resident_gb": max(filter(None, peaks.values()), default=None),
           "data": data_counts(run_dir), "environment": {**environment(), "weights": starting_weights(run_dir)}}
    save_json(out_dir / "run.json", run)
    metrics = json.loads((out_dir / "metrics.json").read_text()) if (out_dir / "metrics.json").is_file() else None
    write_file(out_dir / "index.html", index_page(run, metrics, out_dir))
    write_file(out_dir / "README.md", summary_page(run, metrics, out_dir))
    return run


def local_transport(sockets):
    """A kernel's connection as Unix sockets in the folder ``sockets``, where the system has them.

    Over TCP, even on the loopback, every kernel warns that its traffic is not encrypted: noise in
    each notebook's log that a learner reads as a problem. Sockets in a private temporary folder
    carry the same messages without leaving the machine.
    """
    if os.name != "posix":
        return {}
    return {"transport": "ipc", "ip": str(Path(sockets.name) / "kernel")}


def kernel_peak_gb(kernel):
    """The most memory a notebook's kernel held resident (VmHWM), in GB to 0.01; None where the system does not say."""
    peak = peak_resident_bytes(kernel.provisioner.pid)
    return None if peak is None else round(peak / 1e9, 2)


def relative_folders(value, start):
    """A value naming folders (one, or several separated by commas), each made relative to start; others unchanged."""
    if not isinstance(value, str) or not value:
        return value
    parts = value.split(",")
    if not all(Path(part).is_dir() for part in parts):
        return value
    return ",".join(os.path.relpath(part, start) for part in parts)


def notebook_parameters(profile, run_dir, data, notebooks_dir):
    """The papermill parameters; paths are made relative to the notebooks' folder."""
    parameters = {"profile": profile, "run_dir": os.path.relpath(run_dir, notebooks_dir)}
    if data:
        parameters["data"] = os.path.relpath(data, notebooks_dir) if Path(data).is_dir() else data
    return parameters


def compact_figures(notebook, quality=85):
    """Store a report notebook's figures as JPEG: photos in PNG would make report/ ten times larger.

    The source notebooks keep PNG; only the report's executed copies (and so its HTML pages)
    are re-encoded.
    """
    import base64
    import io

    import nbformat
    from PIL import Image

    executed = nbformat.read(notebook, as_version=4)
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).pop("image/png", None)
            if png is None:
                continue
            with Image.open(io.BytesIO(base64.b64decode(png))) as image:
                jpeg = io.BytesIO()
                image.convert("RGB").save(jpeg, "JPEG", quality=quality)
            output["data"]["image/jpeg"] = base64.b64encode(jpeg.getvalue()).decode()
    write_notebook(executed, notebook)


def forget_paths(notebook):
    """Keep only file names in papermill's record of where a notebook was read and written."""
    import nbformat

    executed = nbformat.read(notebook, as_version=4)
    record = executed.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if record.get(key):
            record[key] = Path(record[key]).name
    write_notebook(executed, notebook)


def write_notebook(executed, notebook):
    """Write a notebook node to its file as ``nbformat.write`` would (a newline at the end), atomically."""
    import nbformat

    write_file(notebook, nbformat.writes(executed) + "\n")


def write_html(notebook, page, pages=NOTEBOOKS):
    """Render an executed notebook as a standalone HTML page, offline and linked (:func:`colorlib.pages.notebook_page`)."""
    import nbformat

    from colorlib.pages import notebook_page

    body = notebook_page(nbformat.read(notebook, as_version=4), pages)
    write_file(page, body)


def environment():
    """Versions and hardware a run used, for the report."""
    import fastai
    import skimage
    import torch

    from colorlib.runtime import cpu_features

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
        **cpu_features(),  # the run's speed depends on them
    }


def make_line(profile, data, overrides):
    """The ``make all`` command that reruns this report, with paths as they were given."""
    line = f"make all PROFILE={profile}" + (f" DATA={data}" if data else "")
    if overrides:
        line += ' OVERRIDES="' + " ".join(f"{k}={v}" for k, v in overrides.items()) + '"'
    return line


def starting_weights(run_dir):
    """Whether the run's generator body started from ImageNet weights ("imagenet") or "random"."""
    from colorlib.checkpoints import load_checkpoint

    checkpoint = Path(run_dir) / "generator_pretrained.pt"
    return load_checkpoint(checkpoint, mmap=True).get("weights") if checkpoint.is_file() else None


def data_counts(run_dir):
    """Where the photos came from and how many were found, kept, excluded (by reason) and split."""
    split_file = Path(run_dir) / "split.json"
    if not split_file.is_file():
        return None
    split = json.loads(split_file.read_text())
    return {"source": split["source"], "reason": split["reason"], **split["counts"],
            "train": len(split["train"]), "val": len(split["val"])}
