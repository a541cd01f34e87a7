"""pytest configuration shared by the unit tests and the notebook checks (nbval)."""
import os
import shutil
from pathlib import Path

# Where the notebooks' smoke run goes under nbval, relative to notebooks/ (the kernels' folder),
# as `make nbval` sets it: never a learner's own runs/smoke.
CHECK_RUNS = "../runs/checks"


def pytest_configure(config):
    # `pytest --nbval` from the root, as the course says it is used (testpaths holds notebooks/):
    # the notebooks run from nothing in the checks' own run folder, as `make nbval` runs them.
    # Where COLORLIB_RUNS is set (make nbval sets it), it is left as it is.
    if (config.getoption("nbval", False) or config.getoption("nbval_lax", False)) \
            and not os.environ.get("COLORLIB_RUNS"):
        shutil.rmtree(Path(config.rootpath) / "runs" / "checks", ignore_errors=True)
        os.environ["COLORLIB_RUNS"] = CHECK_RUNS  # the kernels nbval starts inherit it


def pytest_collectstart(collector):
    # Libraries write deprecation warnings to stderr, with paths that differ between machines;
    # a notebook's stored stderr is not part of what the course promises, its stdout and data are.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
