"""Bytes to text, the way a browser decides: BOM, HTTP header, page declaration, detection.

w3lib applies the browser's charset overrides (gb2312 and gbk are decoded as
gb18030, their superset); charset-normalizer guesses when nothing is declared.
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode


def _detect(body: bytes) -> str | None:
    best = from_bytes(body[:65536]).best()
    return best.encoding if best else None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding)`` for an HTML body and its Content-Type header."""
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_detect)
    return text, encoding
