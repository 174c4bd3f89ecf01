"""Bytes to text, the way a browser decides: BOM, HTTP header, page declaration, detection.

w3lib applies the browser's charset overrides (gb2312 and gbk are decoded as
gb18030, their superset); charset-normalizer guesses when nothing is declared.

Unlike a browser, a declaration the bytes contradict is not obeyed into mojibake:
when the declared charset garbles the text (many U+FFFD), or names another
charset than the UTF-8 the bytes are, or a Latin one for bytes that read as
Chinese, charset-normalizer decides. When no charset gives clean text either,
the body is refused (ValueError) rather than returned garbled.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode, read_bom, resolve_encoding, to_unicode

# Single-byte charsets a misconfigured server or CMS declares for Chinese pages.
_LATIN = frozenset(["cp1252", "latin-1", "iso8859-1", "iso8859-15", "ascii"])
# Non-ASCII characters needed before the bytes' own shape overrides a declaration.
_MIN_NON_ASCII = 8


def _detect(body: bytes) -> str | None:
    best = from_bytes(body[:65536]).best()
    return (resolve_encoding(best.encoding) or best.encoding) if best else None


def _codec(encoding: str) -> str:
    """The canonical codec name of ``encoding`` ('' when Python does not know it)."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return ""


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


def garbled(text: str) -> bool:
    """More than a stray U+FFFD: over 2 in 100 non-ASCII characters (a cut page has one)."""
    bad = text.count("\ufffd")
    return bad > 2 and bad * 50 > _non_ascii(text)


def _reads_as(body: bytes, encoding: str) -> bool:
    """True when ``body`` decodes as ``encoding`` into clean text with real non-ASCII content."""
    text = body.decode(encoding, "replace")
    return _non_ascii(text) >= _MIN_NON_ASCII and not garbled(text)


def _contradicted(body: bytes, text: str, encoding: str) -> bool:
    """True when the bytes contradict the charset the page was decoded with."""
    if garbled(text):
        return True
    name = _codec(encoding)
    if name == "utf-8":
        return False
    # Real text in another charset is almost never valid UTF-8 by chance.
    if _reads_as(body, "utf-8"):
        return True
    return name in _LATIN and _reads_as(body, "gb18030")


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding)`` for an HTML body and its Content-Type header.

    Raises ValueError when the declared charset garbles the text and detection
    finds no charset that reads it cleanly.
    """
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_detect)
    if not _contradicted(body, text, encoding):
        return text, encoding
    _, bom = read_bom(body)
    raw = body[len(bom) :] if bom else body
    detected = _detect(raw)
    if detected and _codec(detected) != _codec(encoding):
        redecoded = to_unicode(raw, detected)
        if not garbled(redecoded):
            return redecoded, detected
    if garbled(text):
        raise ValueError(
            f"undecodable: {encoding} gives {text.count(chr(0xFFFD))} replacement characters"
            f" and no detected charset reads the bytes cleanly (detected: {detected})"
        )
    return text, encoding
