"""The package's import graph has no cycle: every module can be read (and imported) after the
modules it imports, with nothing patched up at call time. Imports inside functions count too:
grimp reads every import statement of a module, wherever it stands."""

import grimp

PACKAGE = "swiftdiff"


def _cycles(graph) -> list[list[str]]:
    """One shortest cycle through each import that closes one, each rotated to start at its
    smallest module name, without repeats."""
    found = set()
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is None:
                continue
            cycle = [importer, *back[:-1]]
            start = cycle.index(min(cycle))
            found.add(tuple(cycle[start:] + cycle[:start]))
    return [list(cycle) for cycle in sorted(found, key=lambda c: (len(c), c))]


def _describe(graph, cycle: list[str]) -> str:
    steps = []
    for importer, imported in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        lines = sorted(
            detail["line_number"] for detail in graph.get_import_details(importer=importer, imported=imported)
        )
        steps.append(f"{importer} (line {', '.join(map(str, lines))}) -> ")
    return "".join(steps) + cycle[0]


def test_the_package_has_no_import_cycle():
    graph = grimp.build_graph(PACKAGE, cache_dir=None)  # no cache folder left in the work tree
    assert len(graph.modules) > 10, sorted(graph.modules)  # the graph really holds the package
    cycles = _cycles(graph)
    assert not cycles, f"{len(cycles)} import cycle(s) in {PACKAGE}:\n" + "\n".join(
        _describe(graph, cycle) for cycle in cycles
    )


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: a graph with a cycle through a function-level import is caught."""
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b", line_number=1, line_contents="from . import b")
    graph.add_import(importer="pkg.b", imported="pkg.c", line_number=2, line_contents="from . import c")
    graph.add_import(importer="pkg.c", imported="pkg.a", line_number=9, line_contents="    from . import a")
    assert _cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert (
        _describe(graph, ["pkg.a", "pkg.b", "pkg.c"])
        == "pkg.a (line 1) -> pkg.b (line 2) -> pkg.c (line 9) -> pkg.a"
    )
