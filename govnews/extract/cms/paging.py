"""How a CMS family's listings page: the rules the ``sites`` spider follows for a kind.

A family whose lists page in a way of their own declares a :class:`Paging` (its
``Family.paging``); its ``kind`` is the value of ``pagination.kind`` in the sites file, its
``options`` the whole-number keys that table may set. The rules read a :class:`Listing`
(the page's URL and parsed HTML) and answer with data, never with requests: the spider
(``govnews.spiders.sites``) turns each :data:`Step` into a Scrapy request or a recorded
failure, so that these rules stay free of Scrapy and can be tested on their own.

Every further page is asked for only when the page before listed an article not stored
yet (the spider decides that), so an incremental run stops paging where the stored
articles begin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from parsel import Selector


@dataclass
class Listing:
    """A listing page as paging rules read it: its URL and its parsed HTML."""

    url: str
    selector: Selector

    @cached_property
    def scripts(self) -> str:
        """The text of the page's inline scripts."""
        return "\n".join(self.selector.xpath("//script[not(@src)]/text()").getall())


@dataclass(frozen=True)
class NextPage:
    """Ask for ``url`` (GET) and read it as a listing: the list's next page."""

    url: str


@dataclass(frozen=True)
class Problem:
    """A listing whose pagination cannot be read: recorded as a failure of the page.

    ``with_request``: recorded with the listing's request (its callback is retried on the
    next run); else with none (retried through the spider's ``parse``).
    """

    reason: str
    with_request: bool = True


class Window(Protocol):
    """One POST for records ``start``–``end`` of a list on the page ``column``.

    The spider POSTs ``params`` to ``url``; the family's ``read_window`` reads the answer.
    Then, while ``end < total`` and the answer brought an article not stored yet, it asks
    for :meth:`following`.
    """

    @property
    def column(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def params(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def seen(self) -> frozenset[str]:
        """The links the list has given so far (windows may overlap: deduplicated)."""

    @property
    def where(self) -> str:
        """How failures name the window (``dataproxy.jsp records 3-4``)."""

    def following(self, total: int, seen: frozenset[str]) -> Window:
        """The next window, of the same size."""


#: What a listing's paging rules answer: a next page, a window to POST, or a problem.
Step = NextPage | Window | Problem


@dataclass(frozen=True)
class WindowAnswer:
    """What the answer to a :class:`Window` lists: link targets (absolute), the list's total."""

    links: list[str]
    total: int


def _never(url: str) -> bool:
    return False


def _nothing(listing: Listing) -> list[str]:
    return []


def _no_windows(window: Window, text: str) -> WindowAnswer | Problem:
    return Problem(f"{type(window).__name__}: this kind of paging posts no windows")


@dataclass(frozen=True)
class Paging:
    """A family's listing rules, under the name the sites file gives them.

    ``next_pages(listing, options)``: the steps after a listing page (``options``: the
    values the sites file set for ``options``). ``is_further_page(url)``: a page after a
    list's first, reached through ``next_pages`` only (not followed as a listing).
    ``listed(listing)``: links the page lists outside its ``<a>`` elements.
    ``read_window(window, text)``: the answer to a POSTed window. ``detect(listing)``:
    True when the page carries the family's paging (a site added by its address alone
    takes the paging of the first family that detects it).
    """

    kind: str
    next_pages: Callable[[Listing, Mapping[str, int]], Iterable[Step]]
    detect: Callable[[Listing], bool]
    options: tuple[str, ...] = ()
    is_further_page: Callable[[str], bool] = _never
    listed: Callable[[Listing], list[str]] = _nothing
    read_window: Callable[[Window, str], WindowAnswer | Problem] = _no_windows
