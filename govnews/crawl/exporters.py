"""Item exporters: a CSV that spreadsheet programs open safely.

JSON and JSON lines stay Scrapy's own exporters (with ``FEED_EXPORT_ENCODING =
"utf-8"`` Chinese text is written as is, not as ``\\u`` escapes).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from io import BytesIO
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exporters import CsvItemExporter
from scrapy.item import Field

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def neutralise(text: str) -> str:
    """``text`` with a leading apostrophe if a spreadsheet would read it as a formula.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
    prefixed. A plain signed number (``-3``, ``+86``, ``-1.5``) and a lone ``-`` are
    left alone: a spreadsheet reads them as a number or as text and runs nothing.
    """
    if text.startswith(FORMULA_TRIGGERS) and text != "-" and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeCsvItemExporter(CsvItemExporter):
    """Scrapy's CSV exporter with formula cells neutralised, JSON lists and ISO dates.

    Every text cell goes through :func:`neutralise` (numbers are written as they
    are); lists and dicts (``images``, ``attachments``) become JSON text, dates
    ISO 8601. ``bom=True`` starts the file with a UTF-8 byte order mark, which
    makes Excel read it as UTF-8; as a feed, ``bom`` defaults to the
    ``GOVNEWS_CSV_BOM`` setting. With ``fields_to_export`` given, the header is
    written even when no item is.
    """

    def __init__(self, file: BytesIO, *, bom: bool = False, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        assert self.encoding is not None  # CsvItemExporter defaults it to utf-8
        if bom and codecs.lookup(self.encoding).name != "utf-8":
            raise ValueError(f"a UTF-8 BOM needs the utf-8 encoding, not {self.encoding}")
        self.bom = bom

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: BytesIO, **kwargs: Any) -> Self:
        """The exporter of a feed: ``bom`` from ``GOVNEWS_CSV_BOM`` unless the feed sets it."""
        kwargs.setdefault("bom", crawler.settings.getbool("GOVNEWS_CSV_BOM"))
        return cls(file, **kwargs)

    def start_exporting(self) -> None:
        """Write the BOM if asked, and the header if the fields are known already."""
        if self.bom:
            self.stream.write("\ufeff")
        if self.include_headers_line and self.fields_to_export:
            fields = self.fields_to_export
            names = fields.values() if isinstance(fields, Mapping) else fields
            self.csv_writer.writerow(list(names))
            self._headers_not_written = False

    def serialize_field(self, field: Mapping[str, Any] | Field, name: str, value: Any) -> Any:
        """The cell of ``value``, after the field's own serializer if it has one."""
        serializer = field.get("serializer")
        return self.cell(serializer(value) if serializer else value)

    def cell(self, value: Any) -> Any:
        """Text for a spreadsheet: dates in ISO 8601, lists and dicts as JSON, no formulas."""
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, list | tuple | dict):
            value = json.dumps(value, ensure_ascii=False, default=str)
        elif isinstance(value, bytes):
            value = value.decode(self.encoding or "utf-8")
        return neutralise(value) if isinstance(value, str) else value
