"""The documentation stays true to the tree: paths, module names, links, settings.

README.md, docs/*.md and benchmarks/README.md name files (``govnews/crawl/retry.py``),
modules and attributes (``govnews.mirror.paths.post_key``) and link to each other.
Every such name must exist in this checkout and every link must resolve, so that a
file moved or renamed without its documentation fails here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "govnews"


def doc_files() -> list[Path]:
    """The Markdown files that document govnews."""
    docs = sorted((ROOT / "docs").glob("*.md"))
    return [ROOT / "README.md", *docs, ROOT / "benchmarks" / "README.md"]


# A name starts where it is not the tail of something longer: `data/govnews.db` and
# `/srv/govnews/data/…` name no govnews file.
_START = r"(?<![\w./-])"
_PATH = re.compile(_START + r"(?:govnews|tests|benchmarks)/[\w./-]*")
_DOTTED = re.compile(_START + r"govnews(?:\.\w+)+")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def stats_keys() -> set[str]:
    """The ``govnews/…`` stats keys the code writes: names the docs may give that are no path."""
    keys: set[str] = set()
    for source in PACKAGE.rglob("*.py"):
        keys.update(re.findall(r"[\"'](govnews/[\w/]+)[\"']", source.read_text(encoding="utf-8")))
    return keys


def path_problem(name: str, keys: set[str]) -> str | None:
    """Why a ``govnews/…`` (``tests/…``, ``benchmarks/…``) path does not hold, or None."""
    name = name.rstrip(".,;:")
    if (ROOT / name).exists() or name in keys:
        return None
    return f"{name}: no such file or directory"


def module_problem(name: str) -> str | None:
    """Why a dotted ``govnews.x.y`` name is neither a module nor an attribute of one, or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        module_name = ".".join(parts[:end])
        try:
            target: object = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue  # not a module: maybe an attribute of its parent
            return f"{name}: importing {module_name} fails: {error}"
        for attribute in parts[end:]:
            if not hasattr(target, attribute):
                return f"{name}: {'.'.join(parts[:end])} has no {attribute!r}"
            target = getattr(target, attribute)
        return None
    return f"{name}: no such module"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"`|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {slug(h) for h in _HEADING.findall(_FENCE.sub("", text))}


def link_problem(source: Path, target: str) -> str | None:
    """Why a relative Markdown link from ``source`` does not resolve, or None."""
    if re.match(r"[a-z][a-z0-9+.-]*:", target):
        return None  # http:, https:, mailto: … are not files of the checkout
    path, _, anchor = target.partition("#")
    destination = (source.parent / path).resolve() if path else source
    if not destination.exists():
        return f"{target}: no such file"
    if (
        anchor
        and destination.suffix == ".md"
        and anchor not in anchors(destination.read_text(encoding="utf-8"))
    ):
        return f"{target}: no heading #{anchor} in {destination.name}"
    return None


def problems(source: Path, text: str, keys: set[str]) -> Iterator[str]:
    """Every path, module name and link of one document that does not hold."""
    for match in _PATH.finditer(text):
        if problem := path_problem(match.group(), keys):
            yield problem
    for match in _DOTTED.finditer(text):
        if problem := module_problem(match.group()):
            yield problem
    for match in _LINK.finditer(_FENCE.sub("", text)):
        if problem := link_problem(source, match.group(1)):
            yield problem


@pytest.mark.parametrize("document", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_name_and_link_in_the_docs_exists(document: Path) -> None:
    found = sorted(set(problems(document, document.read_text(encoding="utf-8"), stats_keys())))
    assert not found, "\n".join(found)


def test_the_check_fails_on_wrong_names_and_links() -> None:
    source = ROOT / "docs" / "architecture.md"
    wrong = (
        "`govnews/crawl/nothing.py`, `govnews/link/urls.py`, `tests/test_nothing.py`,"
        " `govnews.core.nothing`, `govnews.items.Nothing`, `govnews.crawl.retry.Nothing`,"
        " [a](nothing.md), [b](storage.md#nothing), [c](#nothing)"
    )
    assert len(list(problems(source, wrong, stats_keys()))) == 9
    right = (
        "`govnews/crawl/retry.py`, `govnews/store/migrations/versions/`, `govnews/skipped_known`,"
        " `data/govnews.db`, `/srv/govnews/data/x.log`, `tests/test_docs.py`, `govnews.core.urls`,"
        " `govnews.items.content_hash`, [a](storage.md#migrations), [b](../README.md),"
        " [c](https://example.org/x.md)"
    )
    assert list(problems(source, right, stats_keys())) == []


def test_the_layout_tree_names_files_that_exist() -> None:
    """The file names in docs/architecture.md's tree of govnews/ exist in their package."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = next(b for b in _FENCE.findall(text) if "\ngovnews/\n" in b)
    missing, package = [], PACKAGE
    for line in tree.splitlines()[2:]:
        if not line.startswith(" "):
            break  # past govnews/: benchmarks/, data/, tests/
        if entry := re.match(r"  (\w+)(/|\.py)\s", line):
            package = PACKAGE / entry[1] if entry[2] == "/" else PACKAGE
        for name in re.findall(r"\b\w+\.(?:py|toml)\b", line):
            if not any(package.rglob(name)):
                missing.append(f"{name} (in {package.relative_to(ROOT)})")
    assert not missing, missing


def test_every_govnews_setting_is_documented() -> None:
    settings = (PACKAGE / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r"^(GOVNEWS_\w+)\s*=", settings, re.M))
    documented = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert names and not {n for n in names if f"`{n}`" not in documented}


def test_the_docs_crontab_is_the_readmes() -> None:
    """docs/operations.md gives the crontab in full: the lines tests/test_readme.py runs."""
    crontab = re.compile(r"^(?:[\d*/,-]+\s+){5}\S.*$", re.M)
    readme = crontab.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    operations = crontab.findall((ROOT / "docs" / "operations.md").read_text(encoding="utf-8"))
    assert readme and sorted(readme) == sorted(operations)
