"""A parsed page: decoded text, an lxml tree and the text helpers every signal shares."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml.etree import ParserError, _Element
from lxml.html import HtmlElement

from govnews.core.text import clean_space
from govnews.extract.encoding import decode_html

BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tfoot",
        "tr",
        "ul",
    ]
)
INVISIBLE_TAGS = frozenset(
    ["script", "style", "noscript", "template", "iframe", "object", "embed", "head", "title"]
)

SHORT_TEXT = 400
_ANY_SPACE = re.compile(r"\s+")
# lxml refuses text that starts with an XML declaration naming an encoding (XHTML pages).
_XML_DECLARATION = re.compile(r"^\s*<\?xml\b[^>]*>")
# Characters lxml parses but then refuses to set as text (drop_tree moves tails): NUL,
# C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# How <title> separates the headline from section and site names.
TITLE_SEPARATOR = re.compile(r"\s*(?:[_|｜]|--|——| - | – | — )\s*")


def squash(text: str) -> str:
    """``text`` without any white space, for comparing titles."""
    return _ANY_SPACE.sub("", text)


def is_element(node: object) -> bool:
    """True for real elements (not comments or processing instructions)."""
    return isinstance(node, _Element) and isinstance(node.tag, str)


def tag_of(element: HtmlElement) -> str:
    """Tag name (the HTML parser lower-cases them), '' for comments and other non-elements."""
    tag = element.tag
    return tag if isinstance(tag, str) else ""


def visible_lines(element: HtmlElement) -> list[str]:
    """The lines a reader sees in ``element``: blocks and <br> break lines; no empty lines."""
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = clean_space("".join(current))
        if line:
            lines.append(line)
        current.clear()

    def walk(node: HtmlElement) -> None:
        tag = tag_of(node)
        if tag in INVISIBLE_TAGS:
            return
        block = tag in BLOCK_TAGS
        if block:
            flush()
        if tag and node.text:
            current.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                current.append(child.tail)
        if block or tag in ("td", "th"):
            flush()

    walk(element)
    flush()
    return lines


def visible_text(element: HtmlElement) -> str:
    """All visible text of ``element`` on one line (white space collapsed).

    Pages are parsed without their scripts and styles, so this is the text
    content; line breaks between blocks are not marked (see :func:`visible_lines`).
    """
    return clean_space(element.text_content())


def spaced_text(element: HtmlElement) -> str:
    """Visible text with a space at every element boundary.

    ``<span>来源:法治日报</span><span>作者:林一鸣</span>`` reads as two fields on a
    page (CSS spaces them); joined without a boundary the labels run together.
    """
    parts: list[str] = []
    for node in element.iter():
        if tag_of(node) in INVISIBLE_TAGS or not tag_of(node):
            if node is not element and node.tail:
                parts.append(node.tail)
            continue
        parts.append(node.text or "")
        if node is not element:
            parts.append(node.tail or "")
    return clean_space(" ".join(parts))


@dataclass
class Page:
    """An HTML page ready for the extraction signals."""

    url: str
    html: str
    encoding: str
    root: HtmlElement
    #: The parser gave up on markup nested too deep and kept only what came before.
    truncated: bool = False
    _meta: dict[str, str] | None = field(default=None, repr=False)
    _short: list[tuple[HtmlElement, str]] | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(
        cls, body: bytes | str, url: str, headers: Mapping[str, str] | None = None
    ) -> Page:
        """Decode and parse; raises ValueError for a bad URL or when nothing parsable is left."""
        try:
            urlsplit(url)
        except ValueError as exc:  # e.g. "http://[::1/": every later urlsplit/urljoin would raise
            raise ValueError(f"invalid page URL {url!r}: {exc}") from exc
        if isinstance(body, bytes):
            content_type = _header(headers, "content-type")
            html, encoding = decode_html(body, content_type)
        else:
            html, encoding = body, "unicode"
        html = _XML_DECLARATION.sub("", _NOT_XML.sub("", html), count=1)
        if not html.strip():
            raise ValueError("empty document")
        parser = lxml.html.HTMLParser()
        try:
            root = lxml.html.document_fromstring(html, parser=parser)
        except (ParserError, ValueError) as exc:
            raise ValueError(f"unparsable HTML: {exc}") from exc
        for hidden in list(root.iter("script", "style", "template")):
            if isinstance(hidden, HtmlElement):
                hidden.drop_tree()
        truncated = any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log)
        return cls(url=url, html=html, encoding=encoding, root=root, truncated=truncated)

    @property
    def host(self) -> str:
        """The page's host, lower case, without port."""
        return (urlsplit(self.url).hostname or "").lower()

    def absolute(self, href: str | None) -> str | None:
        """``href`` made absolute against the page URL; None for empty, script or invalid links."""
        href = (href or "").strip()
        if not href or href.startswith(("javascript:", "#", "mailto:", "data:")):
            return None
        try:
            return urljoin(self.url, href)
        except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[bad/x.doc"
            return None

    def meta(self, name: str) -> str:
        """The content of <meta name=…> (case-insensitive name, also property=), '' if absent."""
        if self._meta is None:
            self._meta = {}
            for node in self.root.iter("meta"):
                key = (node.get("name") or node.get("property") or "").strip().lower()
                if key and key not in self._meta:
                    self._meta[key] = clean_space(node.get("content") or "")
        return self._meta.get(name.lower(), "")

    @cached_property
    def canonical_url(self) -> str | None:
        """The page's ``<link rel="canonical">``, absolute; None when it names none."""
        for node in self.root.iter("link"):
            if (node.get("rel") or "").strip().lower() == "canonical":
                return self.absolute(node.get("href"))
        return None

    @property
    def head_title(self) -> str:
        """The text of <title>."""
        node = self.root.find(".//title")
        return clean_space(node.text_content()) if node is not None else ""

    def body(self) -> HtmlElement:
        """The <body> element (the root when the page has none)."""
        node = self.root.find(".//body")
        return node if node is not None else self.root

    @cached_property
    def lines(self) -> list[str]:
        """The visible lines of the whole page, as first parsed."""
        return visible_lines(self.body())

    @property
    def text_sizes(self) -> dict[HtmlElement, tuple[int, int]]:
        """(text, link text) sizes of every element: characters of stripped text nodes."""
        return self._measures[0]

    @cached_property
    def _measures(self) -> tuple[dict[HtmlElement, tuple[int, int]], dict[HtmlElement, str]]:
        """One pass from the leaves up: the sizes of all elements and the texts of short ones."""
        sizes: dict[HtmlElement, tuple[int, int]] = {}
        texts: dict[HtmlElement, str] = {}
        for element in reversed(list(self.root.iter())):
            if not isinstance(element.tag, str):
                continue
            own = element.text or ""
            size, links = len(own.strip()), 0
            parts: list[str] | None = [own]
            for child in element:
                tail = child.tail or ""
                child_size, child_links = sizes.get(child, (0, 0))
                size += child_size + len(tail.strip())
                links += child_links
                if parts is not None and child_size <= SHORT_TEXT:
                    gap = " " if tag_of(child) in BLOCK_TAGS else ""
                    parts += [gap, texts.get(child, ""), gap, tail]
                else:
                    parts = None
            sizes[element] = (size, size if element.tag == "a" else links)
            if size == 0:
                texts[element] = ""
            elif parts is not None and size <= SHORT_TEXT:
                texts[element] = clean_space("".join(parts))
        return sizes, texts

    def link_density(self, element: HtmlElement) -> float:
        """Share of the element's text (as first parsed) that is link text."""
        text, links = self.text_sizes.get(element, (0, 0))
        return links / text if text else 0.0

    def short_texts(self, limit: int = SHORT_TEXT) -> Iterator[tuple[HtmlElement, str]]:
        """Elements whose visible text is non-empty and at most ``limit`` characters, with it.

        Labelled lines (info line, 原文链接, breadcrumb) are short; computed once per page.
        """
        if self._short is None:
            self._short = []
            texts = self._measures[1]
            for element in self.iter_elements():
                text = texts.get(element)
                if text and len(text) <= SHORT_TEXT:
                    self._short.append((element, text))
        return ((element, text) for element, text in self._short if len(text) <= limit)

    def iter_elements(self) -> Iterator[HtmlElement]:
        """Every visible element of the body, in document order."""
        for node in self.body().iter():
            tag = tag_of(node)
            if tag and tag not in INVISIBLE_TAGS:
                yield node


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
