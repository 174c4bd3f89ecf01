"""The report's charts: matplotlib figures written as inline SVG.

matplotlib draws them with its SVG backend (``Figure.savefig``, no display,
no pyplot state), and its SVG is self-contained: no script, no font file,
nothing fetched. Text stays text (``svg.fonttype = none``), so the viewer's
browser draws the Chinese labels with its own CJK font, the file stays small
(10 to 26 KB a chart) and the numbers can be selected and searched. The ids of
each chart are prefixed, so that several charts live in one page.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: Fonts the page's text is drawn with, CJK first; matplotlib measures the labels with
#: the first it finds (DejaVu when none is installed: the layout is then approximate).
FONTS = [
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Micro Hei",
    "SimHei",
    "DejaVu Sans",
    "sans-serif",
]
_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "govnews",  # the same ids for the same chart: reports can be compared
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
}
#: One colour per series, in order (matplotlib's tab10).
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
#: Delay buckets (hours, upper bound exclusive) and their labels.
DELAY_BUCKETS: list[tuple[float, str]] = [
    (0, "提前 earlier"),
    (1, "<1 h"),
    (6, "1–6 h"),
    (24, "6–24 h"),
    (72, "1–3 d"),
    (168, "3–7 d"),
    (720, "7–30 d"),
    (float("inf"), "≥30 d"),
]

_ID = re.compile(r'(\bid="|url\(#|xlink:href="#|href="#)')


def bucket(hours: float) -> str:
    """The label of the delay bucket ``hours`` falls in."""
    return next(label for bound, label in DELAY_BUCKETS if hours < bound)


def bars(name: str, labels: Sequence[str], values: Sequence[int], title: str) -> str:
    """A bar chart of counts; labels along the bottom."""

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.bar(range(len(values)), values, color=COLOURS[0])
        step = max(1, len(labels) // 18)
        ticks = range(0, len(labels), step)
        axes.set_xticks(ticks, list(labels)[::step], rotation=45, ha="right")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title)

    return _svg(name, (7.2, 2.6), draw)


def grouped_bars(
    name: str, labels: Sequence[str], series: dict[str, Sequence[float]], title: str
) -> str:
    """Horizontal bars of shares (0–1), one group per label, one bar per series."""
    height = 0.8 / max(1, len(series))

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        for number, (series_name, values) in enumerate(series.items()):
            positions = [index + number * height for index in range(len(labels))]
            axes.barh(positions, values, height=height, label=series_name, color=COLOURS[number])
        middle = height * (len(series) - 1) / 2
        axes.set_yticks([index + middle for index in range(len(labels))], list(labels))
        axes.invert_yaxis()
        axes.set_xlim(0, 1)
        axes.xaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
        figure.legend(loc="outside lower center", ncols=len(series), fontsize=8, frameon=False)
        axes.set_title(title)

    return _svg(name, (7.2, 1.2 + 0.3 * len(labels) * max(1, len(series)) / 2), draw)


def timeline(name: str, rows: Sequence[tuple[str, Sequence[float]]], title: str) -> str:
    """One row per original: a dot per repost at its delay (hours, symmetric log scale)."""

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        for index, (_, delays) in enumerate(rows):
            axes.scatter(delays, [index] * len(delays), s=18, color=COLOURS[0], alpha=0.7)
        axes.set_yticks(range(len(rows)), [label for label, _ in rows])
        axes.invert_yaxis()
        axes.set_xscale("symlog", linthresh=1)
        axes.xaxis.set_major_formatter(lambda value, _: f"{value:g}")
        axes.axvline(0, color="#999", linewidth=0.8)
        axes.set_xlabel("小时 hours after the original")
        axes.set_title(title)

    return _svg(name, (7.2, 0.9 + 0.3 * max(1, len(rows))), draw)


@contextmanager
def _style() -> Iterator[None]:
    """The report's style, and quiet about CJK glyphs the measuring font lacks."""
    with matplotlib.rc_context(cast(Any, _STYLE)), warnings.catch_warnings():
        # A CJK glyph missing from the measuring font is no error: the browser draws it.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        font_log = logging.getLogger("matplotlib.font_manager")
        level = font_log.level
        font_log.setLevel(logging.ERROR)  # "findfont: Font family … not found"
        try:
            yield
        finally:
            font_log.setLevel(level)


def _svg(name: str, size: tuple[float, float], draw: Callable[[Figure], None]) -> str:
    """The figure ``draw`` makes, as an ``<svg>`` element whose ids start with ``name``."""
    buffer = io.StringIO()
    with _style():
        figure = Figure(figsize=size, layout="constrained")
        draw(figure)
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    return _ID.sub(lambda match: f"{match.group(1)}{name}-", text)
