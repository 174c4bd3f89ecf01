"""Bytes to text, the way a browser decides: BOM, HTTP header, page declaration, detection.

w3lib applies the browser's charset overrides (gb2312 and gbk are decoded as
gb18030, their superset); charset-normalizer guesses when nothing is declared.

Unlike a browser, a declaration the bytes contradict is not obeyed into mojibake
(servers send GBK pages as charset=utf-8, CMSs declare gb2312 over UTF-8):
bytes that read as UTF-8 are UTF-8, whatever the label. When the declared
charset garbles the text (many U+FFFD), or is a single-byte one (latin-1 …) for
bytes that read as Chinese, charset-normalizer decides; when no charset gives
clean text either, the body is refused (ValueError) rather than returned garbled.
"""

from __future__ import annotations

import codecs
from functools import lru_cache

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode, read_bom, resolve_encoding, to_unicode

# Non-ASCII characters needed before the bytes' own shape overrides a declaration.
_MIN_NON_ASCII = 8


def _detect(body: bytes) -> str | None:
    """charset-normalizer's guess, as a codec name w3lib would use (gbk read as gb18030)."""
    sample = body[:65536]
    # A small page cut inside a character is refused by every charset: try without the tail.
    for end in range(len(sample), max(len(sample) - 4, 0), -1):
        best = from_bytes(sample[:end]).best()
        if best:
            return resolve_encoding(best.encoding) or best.encoding
    return None


def _codec(encoding: str) -> str:
    """The canonical codec name of ``encoding`` ('' when Python does not know it)."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return ""


@lru_cache(maxsize=64)
def _single_byte(encoding: str) -> bool:
    """True for charsets with one character per byte (latin-1, cp1252, koi8-r …)."""
    try:
        return len(bytes(range(0x80, 0x100)).decode(encoding, "replace")) == 0x80
    except LookupError:
        return False


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


def garbled(text: str) -> bool:
    """U+FFFD in over 1 of 10 non-ASCII characters (GBK read as UTF-8 gives one nearly each).

    A few stray bytes in a real page, or a page cut inside a character, stay below.
    """
    bad = text.count("\ufffd")
    return bad > 2 and bad * 10 > _non_ascii(text)


def _reads_as(body: bytes, encoding: str) -> bool:
    """True when ``body`` decodes as ``encoding`` into clean text with real non-ASCII content."""
    text = body.decode(encoding, "replace")
    return _non_ascii(text) >= _MIN_NON_ASCII and not garbled(text)


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding)`` for an HTML body and its Content-Type header.

    Raises ValueError when the declared charset garbles the text and detection
    finds no charset that reads it cleanly.
    """
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_detect)
    name = _codec(encoding)
    _, bom = read_bom(body)
    raw = body[len(bom) :] if bom else body
    # Real text in another charset is almost never valid UTF-8 by chance.
    if name != "utf-8" and _reads_as(raw, "utf-8"):
        return to_unicode(raw, "utf-8"), "utf-8"
    errors = text.count("\ufffd")
    single_byte = name != "utf-8" and _single_byte(name)
    if name == "utf-8":
        doubtful = garbled(text)
    else:
        # GBK read as Big5 gives some U+FFFD; Chinese read as latin-1 none, only mojibake.
        doubtful = errors > 2 or (single_byte and _reads_as(raw, "gb18030"))
    if not doubtful:
        return text, encoding
    detected = _detect(raw)
    if detected and _codec(detected) == name and not garbled(text):
        return text, encoding  # e.g. a real latin-1 page that gb18030 happens to read
    for candidate in (detected, "gb18030" if single_byte else None):
        if candidate and _codec(candidate) != name:
            redecoded = to_unicode(raw, candidate)
            better = single_byte or redecoded.count("\ufffd") < errors
            if better and not garbled(redecoded):
                return redecoded, candidate
    if garbled(text):
        raise ValueError(
            f"undecodable: {encoding} gives {errors} replacement characters"
            f" and no detected charset reads the bytes cleanly (detected: {detected})"
        )
    return text, encoding
