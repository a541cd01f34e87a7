"""pyproject.toml and environment.yml must describe the same environment."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def normalise(requirement):
    return re.sub(r"\s+", "", requirement).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    lines = (ROOT / "environment.yml").read_text().splitlines()
    pip_start = lines.index("  - pip:")
    conda_pip = [line.strip()[2:] for line in lines[pip_start + 1:] if line.strip().startswith("- ")]
    assert sorted(map(normalise, declared)) == sorted(normalise(r) for r in conda_pip if r != "-e .")
    assert "-e ." in conda_pip


def test_environment_yml_pins_python_311_from_conda_forge():
    text = (ROOT / "environment.yml").read_text()
    assert "- conda-forge" in text and "- python=3.11" in text
