"""The documentation stays true: every public name has its Swift alias, a docstring that gives its
Swift spelling with a runnable example (run here as a doctest), and a row in the Swift -> Python
table of the docs."""

import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import swiftdiff as sd

ROOT = Path(__file__).parents[1]
TABLE = (ROOT / "docs" / "swift_to_python.md").read_text()

#: Public names with no Swift counterpart (swiftdiff's own additions), documented as such.
ADDITIONS = {"ZeroDerivativeWarning", "DerivativeRegistrationWarning", "RecomputationWarning",
             "ValueWithGradient", "ValueWithPullback", "ValueWithDifferential", "ValueWithDerivative",
             "AppliedForBackpropagation", "checkpointed_sequential", "models"}

CANONICAL = [name for name in sd.__all__ if name not in sd.SWIFT_NAMES]


def swift_spelling(name):
    for swift, python in sd.SWIFT_NAMES.items():
        if python == name:
            return swift
    return name


@pytest.mark.parametrize("name", CANONICAL)
def test_public_name_has_swift_alias_docstring_and_table_row(name):
    obj = getattr(sd, name)
    swift = swift_spelling(name)
    assert getattr(sd, swift) is obj, f"sd.{swift} must be the same object as sd.{name}"
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"sd.{name} has no docstring"
    if name not in ADDITIONS:
        assert "Swift" in doc, f"sd.{name}'s docstring does not give its Swift spelling"
    if not inspect.ismodule(obj):
        assert ">>>" in doc, f"sd.{name}'s docstring has no runnable example"
    assert f"`sd.{name}" in TABLE, f"sd.{name} has no row in docs/swift_to_python.md"


MODULES = [importlib.import_module(f"swiftdiff.{m.name}") for m in pkgutil.iter_modules(sd.__path__)]


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_docstring_examples_run(module):
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, module.__name__, globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module.__name__}"


def test_docs_site_builds_strictly(tmp_path):
    """`make docs` in miniature: mkdocs --strict fails on any broken link, snippet or reference."""
    import shutil
    import subprocess
    import sys

    assets = ROOT / "docs" / "assets" / "benchmarks"
    assets.mkdir(parents=True, exist_ok=True)
    for plot in (ROOT / "benchmarks" / "results").glob("*.png"):
        shutil.copy(plot, assets / plot.name)
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    reference = (tmp_path / "site" / "reference" / "index.html").read_text()
    for name in ("value_with_pullback", "with_recomputation_in_pullbacks", "ActivationDiscarding", "TangentVector"):
        assert name in reference


def _results(name):
    import csv

    with open(ROOT / "benchmarks" / "results" / f"{name}.csv") as handle:
        return list(csv.DictReader(handle))


def test_checkpointing_guide_quotes_the_committed_benchmark_results():
    """The guide's 64-layer tables are the figures in benchmarks/results, not remembered ones."""
    guide = (ROOT / "docs" / "checkpointing.md").read_text()
    rows = {}
    for name, column in (("memory_vs_depth", "memory_ratio"), ("step_time", "time_ratio")):
        for row in _results(name):
            if row["depth"] == "64" and row["method"] != "plain" and not row["error"]:
                rows[name, row["method"], row["mode"]] = float(row[column])
    for method, label in (("activation_discarding", "`sd.ActivationDiscarding` per segment"),
                          ("checkpointed_sequential", "`sd.checkpointed_sequential`")):
        memory = [f"{rows['memory_vs_depth', method, mode]:.3f}" for mode in ("eager", "function", "fit_xla")]
        assert f"| {label}, memory | " + " | ".join(f"**{m}**" for m in memory) + " |" in guide
        times = [f"{rows['step_time', method, mode]:.2f}" for mode in ("eager", "function", "fit_xla")]
        quoted = [line for line in guide.splitlines() if line.startswith(f"| {label} |")]
        assert quoted and all(t in quoted[0] for t in times), (quoted, times)
