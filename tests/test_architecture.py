"""colorlib's layers: each module imports only modules of its own layer or the layers below it.

The README's architecture picture, checked: the colorizer can be reused without the training
code, the training loop without the course. Lazy imports inside functions count too.
"""
import ast
from pathlib import Path

import colorlib

LAYERS = [
    ("settings", {"config", "runtime", "distributed", "atomic", "markup"}),
    ("data", {"sources", "images", "cache", "lab", "dataset", "preprocessing"}),
    ("models", {"models", "heads", "discriminator", "bins", "losses", "predict"}),
    ("files", {"checkpoints"}),
    ("measures", {"ssim", "statistics", "metrics", "tables", "calibration"}),
    ("training", {"trainers", "train"}),
    ("evaluation", {"evaluation", "shipping", "evaluate_checkpoint"}),
    ("inference", {"colorizer", "batch"}),
    ("course", {"memory", "splits", "stages", "capstone", "study", "plots", "front_page", "pages", "report", "bench", "cli",
                "__init__", "__main__", "chapters", "chapters.__init__", "chapters.ch01_data",
                "chapters.ch03_pretrain", "chapters.ch04_gan", "chapters.ch05_scores", "chapters.ch06_colorize"}),
]
LEVEL = {module: level for level, (_, modules) in enumerate(LAYERS) for module in modules}
ROOT = Path(colorlib.__file__).parent


def modules():
    return {str(path.relative_to(ROOT).with_suffix("")).replace("/", "."): path for path in ROOT.rglob("*.py")}


def imported(path):
    """The colorlib modules a file imports, at the top or inside functions."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("colorlib"):
            if node.module == "colorlib":
                yield from (alias.name for alias in node.names)
            else:
                yield node.module.removeprefix("colorlib.")
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            yield from (name.removeprefix("colorlib.") for name in names if name.startswith("colorlib."))


def test_every_module_has_a_layer():
    assert set(modules()) <= set(LEVEL), sorted(set(modules()) - set(LEVEL))


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{name} ({LAYERS[LEVEL[name]][0]}) imports {target} ({LAYERS[LEVEL[target]][0]})"
              for name, path in modules().items() for target in imported(path) if LEVEL[target] > LEVEL[name]]
    assert not upward


def test_the_colorizer_imports_no_training_and_no_course():
    for name in ("colorizer", "batch", "predict"):
        assert not set(imported(modules()[name])) & {"train", "trainers", "stages", "splits", "evaluation"}, name
