"""The documentation stays true: every Swift alias is the same object as its canonical name; every
public name has a docstring whose summary line gives its Swift spelling and whose examples run (as
doctests); the Swift -> Python table of the docs has a row for every public name and alias, each
row under its Swift spelling, and names nothing that does not exist."""

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import swiftdiff as sd

ROOT = Path(__file__).parents[1]
TABLE = (ROOT / "docs" / "swift_to_python.md").read_text()

#: Public names with no Swift counterpart (swiftdiff's own additions), documented as such.
ADDITIONS = {
    "ZeroDerivativeWarning",
    "DerivativeRegistrationWarning",
    "RecomputationWarning",
    "ValueWithGradient",
    "ValueWithPullback",
    "ValueWithDifferential",
    "ValueWithDerivative",
    "AppliedForBackpropagation",
    "checkpointed_sequential",
    "checkpointed",
    "CheckpointedModel",
    "memory_report",
    "MemoryReport",
    "models",
}

CANONICAL = [name for name in sd.__all__ if name not in sd.SWIFT_NAMES]
SWIFT_SPELLING = {python: swift for swift, python in sd.SWIFT_NAMES.items()}


def camel_case(name):
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


@pytest.mark.parametrize("swift,python", sorted(sd.SWIFT_NAMES.items()))
def test_swift_alias_is_the_canonical_object(swift, python):
    assert swift != python and swift == camel_case(python), (
        f"sd.{swift} is not the Swift spelling of {python}"
    )
    assert hasattr(sd, python), f"sd.{swift} aliases sd.{python}, which does not exist"
    assert getattr(sd, swift) is getattr(sd, python), f"sd.{swift} must be the same object as sd.{python}"
    assert swift in sd.__all__ and python in sd.__all__, (swift, python)


def test_every_public_name_exists_once_and_every_snake_case_name_has_its_swift_alias():
    assert len(set(sd.__all__)) == len(sd.__all__), "a name is listed twice in sd.__all__"
    assert not [name for name in sd.__all__ if not hasattr(sd, name)]
    unaliased = [name for name in CANONICAL if "_" in name and camel_case(name) not in sd.SWIFT_NAMES]
    assert not unaliased, f"public names without their Swift spelling exported: {unaliased}"


def _rows():
    """(Swift cell, Python and Notes cells) of every row of the Swift | Python | Notes tables."""
    cells = [line.strip().strip("|").split("|") for line in TABLE.splitlines() if line.startswith("| ")]
    return [(row[0], "|".join(row[1:])) for row in cells if len(row) >= 2 and row[0].strip() != "Swift"]


def _mentions(text, name):
    return re.search(rf"\bsd\.{re.escape(name)}(?![\w])", text) is not None


@pytest.mark.parametrize("name", CANONICAL)
def test_public_name_has_a_docstring_with_its_swift_spelling_and_a_running_example(name):
    obj = getattr(sd, name)
    swift = SWIFT_SPELLING.get(name, name)
    doc = inspect.getdoc(obj) or ""
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    assert summary, f"sd.{name} has no docstring"
    if name not in ADDITIONS:
        assert "Swift" in summary and swift in summary, (
            f"sd.{name}'s summary line does not give its Swift spelling {swift!r}: {summary!r}"
        )
    if inspect.ismodule(obj):
        return
    module = inspect.getmodule(obj)
    tests = doctest.DocTestFinder(exclude_empty=True).find(obj, name, module=module, globs={})
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"sd.{name}'s docstring has no runnable example"
    assert result.failed == 0, f"{result.failed} of sd.{name}'s docstring examples failed"


@pytest.mark.parametrize("name", sd.__all__)
def test_public_name_has_a_row_in_the_swift_table(name):
    rows = [(swift, python) for swift, python in _rows() if _mentions(python, name)]
    assert rows, f"sd.{name} has no row in docs/swift_to_python.md"
    if name not in ADDITIONS and name not in sd.SWIFT_NAMES:  # an alias's row is its canonical name's
        swift = SWIFT_SPELLING.get(name, name)
        assert any(swift in swift_cell for swift_cell, _ in rows), (
            f"sd.{name}'s rows in docs/swift_to_python.md do not give its Swift spelling {swift!r}"
        )


def test_the_swift_table_names_only_what_exists():
    named = set(re.findall(r"\bsd\.([A-Za-z_][\w.]*\w)", TABLE))
    missing = []
    for dotted in sorted(named):
        obj = sd
        for part in dotted.split("."):
            if not hasattr(obj, part):
                missing.append(dotted)
                break
            obj = getattr(obj, part)
    assert not missing, f"docs/swift_to_python.md names what swiftdiff does not have: {missing}"


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
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reference = (tmp_path / "site" / "reference" / "index.html").read_text()
    for name in (
        "value_with_pullback",
        "with_recomputation_in_pullbacks",
        "ActivationDiscarding",
        "TangentVector",
    ):
        assert name in reference


def _results(name):
    import csv

    with open(ROOT / "benchmarks" / "results" / f"{name}.csv") as handle:
        return list(csv.DictReader(handle))


def test_checkpointing_guide_quotes_the_committed_benchmark_results():
    """The guide's 64-layer tables are the figures in benchmarks/results, not remembered ones: the
    memory table (live-tensor ratio, default-environment RSS ratio in brackets, five modes) from
    memory_64_layers.csv, the step-time table from step_time.csv."""
    guide = (ROOT / "docs" / "checkpointing.md").read_text()
    memory = {
        (row["method"], row["mode"]): (float(row["live_ratio"]), float(row["rss_ratio"]))
        for row in _results("memory_64_layers")
        if row["method"] != "plain" and not row["error"]
    }
    times = {
        (row["method"], row["mode"]): float(row["time_ratio"])
        for row in _results("step_time")
        if row["depth"] == "64" and row["method"] != "plain" and not row["error"]
    }
    lines = guide.splitlines()
    for method, label in (
        ("activation_discarding", "`sd.ActivationDiscarding` per segment"),
        ("checkpointed_sequential", "`sd.checkpointed_sequential`"),
    ):
        cells = [
            f"**{memory[method, mode][0]:.3f}** ({memory[method, mode][1]:.3f})"
            for mode in ("eager", "function", "jit", "fit", "fit_xla")
        ]
        assert f"| {label} | " + " | ".join(cells) + " |" in guide, cells
        quoted = [f"{times[method, mode]:.2f}" for mode in ("eager", "function", "fit_xla")]
        rows = [line for line in lines if line.startswith(f"| {label} |")]
        assert any(all(t in line for t in quoted) for line in rows), (rows, quoted)
