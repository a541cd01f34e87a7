"""pytest configuration shared by the unit tests and the notebook checks (nbval)."""


def pytest_collectstart(collector):
    # Libraries write deprecation warnings to stderr, with paths that differ between machines;
    # a notebook's stored stderr is not part of what the course promises, its stdout and data are.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
