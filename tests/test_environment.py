"""pyproject.toml, environment.yml and requirements.lock must describe the same environment."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def test_the_lock_pins_every_declared_package_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    pinned = {canonicalize_name(name): version for name, version in pins.items()}
    assert len(pinned) == len(pins), "a package is pinned twice"
    for requirement in declared:
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"requirements.lock lacks {requirement.name}: run make lock"
        assert requirement.specifier.contains(version, prereleases=True), \
            f"requirements.lock pins {requirement.name}=={version}, outside {requirement}: run make lock"
