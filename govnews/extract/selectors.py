"""Per-site field selectors: CSS or XPath that correct the extraction engine's fields.

A site of the sites file may name, per field, the element (or string) holding it; the
first match overrides the engine's value and the provenance says ``selector:<field>``.
They sit beside the engine because they are extraction: the same page, the same cleaning
of a body (:mod:`govnews.extract.body`); ``govnews.crawl.sitesfile`` only reads and checks
them (:func:`to_xpath`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cssselect import SelectorError
from lxml import etree
from lxml.html import HtmlElement
from parsel.csstranslator import HTMLTranslator

from govnews.core.text import clean_space
from govnews.extract import body as bodies
from govnews.extract.dates import parse_date
from govnews.extract.page import Page, visible_text
from govnews.items import Article, content_hash

#: The fields a selector may give, each the name of an :class:`Article` field
#: (``body`` gives ``body_text``, ``body_html``, images and attachments).
SELECTOR_FIELDS = ("title", "body", "published_at", "source_name", "author")
_LABEL = re.compile(r"^[^:：]{1,6}[:：]\s*")  # 来源：, 作者: before the value a selector found
_CSS = HTMLTranslator()


class BadSelector(ValueError):
    """A selector that is neither valid CSS nor valid XPath (the message says why)."""


def to_xpath(expression: str) -> str:
    """``expression`` as XPath: kept when it starts with ``/`` or ``(``, else read as CSS.

    Raises :class:`BadSelector` for an expression that cannot be read.
    """
    try:
        if expression.startswith(("/", "(")):
            etree.XPath(expression)
            return expression
        return _CSS.css_to_xpath(expression)
    except (etree.XPathSyntaxError, SelectorError) as exc:
        raise BadSelector(str(exc)) from exc


@dataclass(frozen=True)
class Selectors:
    """Per field, the XPath (written as CSS or XPath) whose first match overrides the engine."""

    xpaths: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.xpaths)

    def apply(self, article: Article, page: Page) -> list[str]:
        """Override ``article``'s fields with what the selectors find on ``page``.

        A selector that finds nothing (or, for ``published_at``, no date) leaves the
        engine's value; the names of those fields are returned. The body element
        gets the engine's cleaning (disclaimers, 上一篇/下一篇, share bars, link lists).
        """
        missed: list[str] = []
        for name, xpath in self.xpaths.items():
            found = page.root.xpath(xpath)
            first = (found[0] if found else None) if isinstance(found, list) else found
            if name == "body":
                if not isinstance(first, HtmlElement):
                    missed.append(name)
                    continue
                bodies.cut_boilerplate(first)
                bodies.drop_chrome(page, first)
                bodies.remove_lines(first, bodies.RELATED)
                content = bodies.render(page, first, bodies.attachment_blocks(page))
                article.body_text, article.body_html = content.text, content.html
                article.images, article.attachments = content.images, content.attachments
                article.provenance["body_text"] = "selector:body"
                continue
            text = _text_of(first)
            if name in ("source_name", "author"):
                text = _LABEL.sub("", text)
            value: object = parse_date(text) if name == "published_at" else text
            if not value:
                missed.append(name)
                continue
            setattr(article, name, value)
            article.provenance[name] = f"selector:{name}"
        article.fingerprint = content_hash(article.title, article.body_text)
        return missed


def _text_of(found: object) -> str:
    """The text of an XPath result: an element's visible text, or a string (attribute, text)."""
    if isinstance(found, HtmlElement):
        return visible_text(found)
    return clean_space(found) if isinstance(found, str) else ""
