"""The CMS families government sites run: one module each, and their registry.

Each family module holds what is particular to its CMS: the rule that finds a page's
parts by the markup its templates print and no other family does (``match``), and, when
its lists page in a way of their own, the listing rules the ``sites`` spider follows
(``PAGING``, see :mod:`govnews.extract.cms.paging`). It ends with one :class:`Family`;
:data:`FAMILIES` lists them from the most to the least specific marker, and the first
whose rule recognises a page wins:

``fujian``
    The Fujian government CMS (漳州 and sibling sites): ``#Content`` under ``div.content-title``.
``ucap``
    UCAP (开普云): ``#UCAP-CONTENT``, ``<ucaptitle>``, ``<publishtime>``.
``hanweb``
    大汉 JCMS: ContentStart/ContentEnd and ``$[字段]`` comments, ``#zoom``, ``/art/…/art_…html``
    URLs; lists in ``<datastore>`` records and dataproxy.jsp windows.
``trs``
    TRS WCM: ``div.TRS_Editor``, or a TRS URL or generator with a known container; lists
    paged by ``createPageHTML``.
``xxgk``
    A 政府信息公开 page of a CMS none of the above knows: the document below the key/value
    table. That table is also a layer over every other family (:mod:`.xxgk`).

The sites file's ``pagination.kind`` is one of :data:`PAGINGS` (the families' paging
kinds), ``links`` or ``none``. docs/cms_families.md says how to add a family.
"""

from __future__ import annotations

from govnews.extract.cms import fujian, hanweb, trs, ucap, xxgk
from govnews.extract.cms.paging import Paging
from govnews.extract.cms.parts import CmsParts, Family
from govnews.extract.page import Page

#: The families in their matching order: the first whose rule recognises a page wins.
FAMILIES: tuple[Family, ...] = (
    fujian.FAMILY,
    ucap.FAMILY,
    hanweb.FAMILY,
    trs.FAMILY,
    xxgk.FAMILY,
)

#: The families' listing rules by the sites file's ``pagination.kind``.
PAGINGS: dict[str, Paging] = {
    family.paging.kind: family.paging for family in FAMILIES if family.paging is not None
}


def paging_of(kind: str) -> Paging | None:
    """The listing rules of a ``pagination.kind``; None for ``links``, ``none`` or unknown."""
    return PAGINGS.get(kind)


def match_cms(page: Page) -> CmsParts | None:
    """The parts found by the first CMS rule that recognises the page, with its info table."""
    for family in FAMILIES:
        parts = family.match(page)
        if parts is None:
            continue
        if family.info_table and (table := xxgk.info_table(page)) is not None:
            parts = xxgk.with_info_table(parts, table)
        return parts
    return None


__all__ = ["FAMILIES", "PAGINGS", "CmsParts", "Family", "Paging", "match_cms", "paging_of"]
