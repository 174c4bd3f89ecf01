"""The article record: one item type, read and written through itemadapter."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypedDict

Kind = Literal["portal", "gov"]


class Attachment(TypedDict):
    """A file linked from an article body."""

    name: str
    url: str


@dataclass
class Article:
    """What one article page says, plus where and when it was fetched.

    ``provenance`` maps a field name to the signal that produced its value
    (``meta:PubDate``, ``cms:fujian``, ``label:来源``, ``density`` …), so that
    a wrong value can be traced to the rule that made it.
    """

    url: str
    site: str
    kind: Kind
    title: str
    body_text: str
    body_html: str = ""
    published_at: datetime | None = None
    source_name: str | None = None
    author: str | None = None
    editor: str | None = None
    original_title: str | None = None
    category: str | None = None
    declared_original_url: str | None = None
    images: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    redirect_urls: list[str] = field(default_factory=list)
    #: What a government page says about its own site: SiteName, SiteDomain, SiteIDCode.
    site_meta: dict[str, str] = field(default_factory=dict)
    fetched_at: datetime | None = None
    fingerprint: str = ""
    provenance: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = content_hash(self.title, self.body_text)


_SPACE = re.compile(r"\s+")


def content_hash(title: str, body_text: str) -> str:
    """SHA-256 of the title and body with all white space removed.

    Two fetches of an unchanged page give the same fingerprint even when the
    server re-indents its markup; any change of wording changes it.
    """
    text = _SPACE.sub("", f"{title}\n{body_text}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
