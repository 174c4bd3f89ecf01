"""One adapter per tool: the page's bytes (with its URL and headers) in, a :class:`Record` out.

Each tool is called the way its documentation shows and a user would:

- govnews: ``extract_article(bytes, url, headers=headers)``; it decodes the bytes itself.
- trafilatura: ``bare_extraction(bytes, url=url, with_metadata=True)``; it decodes the
  bytes itself (its own charset guessing).
- GNE: ``GeneralNewsExtractor().extract(text)``, which takes text only: the bytes are
  decoded by :func:`decode`, as Scrapy's ``response.text`` does (w3lib: the Content-Type
  charset, a BOM, the ``<meta>`` charset), with charset-normalizer's guess as the fallback.
- trafilatura-text (opt-in): trafilatura given the text :func:`decode` gives GNE.

``REFERENCE_DECODING = True`` makes :func:`decode` use charset-normalizer's guess alone,
as the corpus README's reference figures for GNE were measured.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import charset_normalizer
from w3lib.encoding import html_to_unicode

from govnews.extract import ExtractionError, extract_article
from govnews.items import Article

# govnews needs a URL; pages saved without one get this neutral one (no host, no date).
UNKNOWN_URL = "http://unknown.invalid/article.html"
INSTALL_HINT = "pip install -e '.[bench]'"
REFERENCE_DECODING = False


@dataclass
class Record:
    """What a tool extracted; empty when it found no article."""

    title: str = ""
    body: str = ""
    date: str | None = None
    author: str = ""
    #: 来源, the agency or medium the page credits (govnews only: the others have no such field).
    source: str = ""
    article: Article | None = field(default=None, repr=False)


class NoArticle(Exception):
    """The tool said, its own way, that the page has no article."""


@dataclass
class Outcome:
    """A tool's result on one page: ``ok``, ``refused`` (no article) or ``crashed``."""

    record: Record
    status: str = "ok"
    error: str = ""


Adapter = Callable[[bytes, str | None, Mapping[str, str]], Record]


def _guess(body: bytes) -> str | None:
    best = charset_normalizer.from_bytes(body).best()
    return best.encoding if best is not None else None


def decode(body: bytes, headers: Mapping[str, str]) -> str:
    """Text of a page: w3lib's declared charset, else charset-normalizer's guess."""
    if REFERENCE_DECODING:
        best = charset_normalizer.from_bytes(body).best()
        return str(best) if best is not None else body.decode("utf-8", errors="replace")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    return html_to_unicode(content_type and content_type.strip(), body, auto_detect_fun=_guess)[1]


def govnews(body: bytes, url: str | None, headers: Mapping[str, str]) -> Record:
    """govnews's article record."""
    try:
        article = extract_article(body, url or UNKNOWN_URL, headers=headers)
    except ExtractionError as exc:
        raise NoArticle(exc.reason) from exc
    published = article.published_at
    return Record(
        title=article.title,
        body=article.body_text,
        date=published.isoformat() if published else None,
        author=article.author or "",
        source=article.source_name or "",
        article=article,
    )


def _trafilatura(data: bytes | str, url: str | None) -> Record:
    from trafilatura import bare_extraction

    document: Any = bare_extraction(data, url=url, with_metadata=True)
    if document is None:
        raise NoArticle("trafilatura returned None")
    return Record(
        title=document.title or "",
        body=document.text or "",
        date=document.date or None,
        author=document.author or "",
    )


def trafilatura(body: bytes, url: str | None, headers: Mapping[str, str]) -> Record:
    """trafilatura given the bytes."""
    return _trafilatura(body, url)


def trafilatura_text(body: bytes, url: str | None, headers: Mapping[str, str]) -> Record:
    """trafilatura given the text :func:`decode` makes of the bytes."""
    return _trafilatura(decode(body, headers), url)


@cache
def _gne_extractor() -> Any:
    from gne import GeneralNewsExtractor

    return GeneralNewsExtractor()


def gne(body: bytes, url: str | None, headers: Mapping[str, str]) -> Record:
    """GNE given the text :func:`decode` makes of the bytes."""
    from gne.exceptions import NoContentException

    try:
        result = _gne_extractor().extract(decode(body, headers))
    except NoContentException as exc:
        raise NoArticle(str(exc)) from exc
    return Record(
        title=result.get("title") or "",
        body=result.get("content") or "",
        date=result.get("publish_time") or None,
        author=result.get("author") or "",
    )


TOOLS: dict[str, Adapter] = {
    "govnews": govnews,
    "trafilatura": trafilatura,
    "gne": gne,
    "trafilatura-text": trafilatura_text,
}
DEFAULT_TOOLS = ("govnews", "trafilatura", "gne")
LABELS = {"govnews": "govnews", "trafilatura": "trafilatura", "gne": "GNE"}
_MODULES = {"trafilatura": "trafilatura", "gne": "gne", "trafilatura-text": "trafilatura"}


def missing(tool: str) -> str | None:
    """Why ``tool`` cannot run here (its package is not installed), or None."""
    module = _MODULES.get(tool)
    if module and importlib.util.find_spec(module) is None:
        return f"{tool}: the {module} package is not installed ({INSTALL_HINT}); skipped"
    return None


def run(adapter: Adapter, body: bytes, url: str | None, headers: Mapping[str, str]) -> Outcome:
    """Call a tool on one page; a refusal or an exception is counted, never raised."""
    try:
        return Outcome(adapter(body, url, headers))
    except NoArticle as exc:
        return Outcome(Record(), "refused", str(exc))
    except Exception as exc:  # any crash of a tool is a result to count
        return Outcome(Record(), "crashed", f"{type(exc).__name__}: {exc}")
