"""The import graph of ``govnews/``: packages import downward only, and no import cycle.

Layers, lowest first (docs/architecture.md): a package may import its own
layer's code only inside itself, and any package of a lower layer. Every
import counts, at the top of a module or inside a function, so that a lazy
import cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "govnews"

#: Top-level packages and modules of govnews, by layer, lowest first.
LAYERS: list[set[str]] = [
    {"core", "settings"},  # pure leaves: no govnews import at all
    {"items"},
    {"store", "extract"},
    {"link"},
    {"crawl", "report"},
    {"spiders"},
    {"commands"},
]
#: Transport only: imports nothing of govnews, and only the Scrapy settings name it.
STANDALONE = {"mirror"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(
    path: Path, name: str, known: dict[str, Path], *, typing_only: bool = True
) -> Iterator[tuple[int, str]]:
    """(line, module) for every govnews module ``path`` imports, resolved to a known module.

    ``typing_only=False`` leaves out imports under ``if TYPE_CHECKING:``: they are
    no dependency at run time, and a collaborator named in a type hint may import back.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text("utf-8"), str(path))
    hints = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if not typing_only and id(node) in hints:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from govnews.extract import body`` imports the module govnews.extract.body.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("govnews.") or target == "govnews":
                yield node.lineno, target


def top(name: str) -> str:
    """The top-level package or module of govnews that ``name`` belongs to."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_top_level_entry_has_a_layer() -> None:
    placed = set().union(*LAYERS, STANDALONE)
    entries = {top(name) for name in modules() if name != "govnews"}
    assert entries - placed == set(), "place each new package in LAYERS (docs/architecture.md)"
    assert placed - entries == set(), "LAYERS names a package that no longer exists"


def test_packages_import_downward_only() -> None:
    known = modules()
    layer = {entry: number for number, entries in enumerate(LAYERS) for entry in entries}
    wrong = []
    for name, path in known.items():
        source = top(name)
        for line, target in imports(path, name, known):
            destination = top(target)
            if destination == source or target == "govnews":
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if source in STANDALONE or destination in STANDALONE:
                wrong.append(f"{where} (mirror is transport only)")
            elif layer[destination] >= layer[source]:
                wrong.append(f"{where} ({source} may not import {destination})")
    assert wrong == []


def test_no_import_cycle() -> None:
    """No cycle between modules at run time, so none between packages or subpackages either.

    Downward-only arrows already keep the top-level packages acyclic; this keeps
    subpackages (``extract.cms``, ``link.agencies``) and modules in order too.
    """
    known = modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        found = imports(path, name, known, typing_only=False)
        edges[name] |= {target for _, target in found if target != name}
    assert find_cycle(edges) is None


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``edges`` as a list of nodes (first repeated last), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for following in sorted(edges.get(node, ())):
            if state.get(following) == 1:
                return [*path[path.index(following) :], following]
            if following not in state and (cycle := visit(following)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_checks_see_a_wrong_arrow(tmp_path: Path) -> None:
    """The walker resolves ``from … import module`` and relative imports, and finds cycles."""
    known = modules()
    linker = "govnews.link.linker"
    upward = tmp_path / "upward.py"
    lazy = "def f():\n    from ...crawl import crawldb\n    from .. import fingerprint\n"
    hint = "if TYPE_CHECKING:\n    from govnews.link import linker\n"
    upward.write_text(lazy + hint)
    found = {target for _, target in imports(upward, "govnews.core.x.upward", known)}
    assert found == {"govnews.crawl.crawldb", "govnews.core.fingerprint", linker}
    run_time = imports(upward, "govnews.core.x.upward", known, typing_only=False)
    assert {target for _, target in run_time} == found - {linker}
    found = {target for _, target in imports(known[linker], linker, known)}
    assert "govnews.store.models" in found and "govnews.core.fingerprint" in found
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None
