"""Name rules: how a 来源 line or a meta tag is turned into the lookup key of an agency.

A repost names its original's publisher in words, not by URL, and spells the
one agency many ways: 漳州市农业农村局, 来源：漳州市农业农村局网站, 【漳州市农业农村局】,
漳州市农业农村局 作者：张三 点击：12 (the whole info line). :func:`normalise_name`
removes everything that is not the name (labels, the fields after it, bracketed
annotations, quotes, spaces, edge punctuation, suffixes naming the site), so
that each spelling becomes the same key. The rules are pure text: they know no
agency and no region (that is :mod:`~govnews.link.agencies.regions` and the
registry's job), and are cached, since the same few thousand names recur on
every page of a crawl.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

# Longer strings are not names (a whole info line, a paragraph): never stored.
MAX_NAME_LENGTH = 100

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SOURCE_LABELS = (
    "信息来源|文章来源|新闻来源|内容来源|稿件来源|来源单位|发布机构|发布单位|"
    "稿源|来源|出处|转载自|转自|摘自|选自"
)
# A source label with its colon anywhere (the whole info line was passed) …
_LABEL_INSIDE = re.compile(rf"(?:{_SOURCE_LABELS})\s*:")
# … or at the start, colon optional (摘自漳州日报).
_LABEL_START = re.compile(rf"^\s*(?:{_SOURCE_LABELS})\s*:?\s*")
# The next field of an info line ends the name: 来源:X 作者:Y 点击:Z.
_NEXT_FIELD = re.compile(
    r"\s*(?:作者|责任编辑|编辑|记者|通讯员|摄影|点击(?:数|量|率)?|浏览(?:次数|量)?|阅读(?:数|量)?"
    r"|发布(?:时间|日期)|更新时间|时间|日期|字号|字体)\s*:"
    r"|\s+\d{4}\s*[-/.年]\s*\d{1,2}"
)
_OPEN = "([【〔〖"
_CLOSE = ")]】〕〗"
_BRACKETED = re.compile(
    rf"[{re.escape(_OPEN)}]([^{re.escape(_OPEN + _CLOSE)}]*)[{re.escape(_CLOSE)}]"
)
_STRAY_BRACKET = re.compile(rf"[{re.escape(_OPEN + _CLOSE)}]")
# Quotes around a name (《闽南日报》) and the dots of a brand (中国·漳州) go.
_QUOTES = dict.fromkeys(map(ord, "《》〈〉「」『』“”‘’\"'·・"), None)
# What 来源 says when it names no publisher: the page itself, nobody, "the internet".
NOT_A_NAME = re.compile(
    r"本(?:网|站|报|台|刊|单位|机关|部门).*|佚名|未知|不详|无|网络|互联网|综合|原创|转载"
)
SPACE = re.compile(r"\s+")
_EDGE_PUNCT = ",.;:!?、，。；：！？…·・-—–_|/\\*#~"
# Suffixes that name the site or channel of an agency rather than the agency.
_SITE_SUFFIXES = (
    "微信公众号",
    "官方网站",
    "门户网站",
    "官方微博",
    "公众号",
    "门户网",
    "网站",
    "官网",
    "门户",
)
# 网 names a site only after the name of an agency (漳州市农业农村局网),
# not after a newspaper's or a portal's (漳州新闻网, 农民工法治网).
_AGENCY_CHARS_BEFORE_NET = frozenset("局委厅办府院会部署处室所站心司馆队")
_LEVEL_BEFORE_GOV_NET = frozenset("省市区县旗州民")


@lru_cache(maxsize=131072)
def normalise_parts(text: str) -> tuple[str, tuple[str, ...]]:
    """The normalised name of ``text`` and the contents of its bracketed annotations."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_QUOTES)
    inside = _LABEL_INSIDE.search(text)
    if inside is not None:
        text = text[inside.start() :]
    text = _LABEL_START.sub("", text, count=1)
    nxt = _NEXT_FIELD.search(text)
    if nxt is not None and nxt.start() > 0:
        text = text[: nxt.start()]
    notes: list[str] = []
    while (match := _BRACKETED.search(text)) is not None:
        notes.append(match.group(1))
        text = f"{text[: match.start()]} {text[match.end() :]}"
    text = _STRAY_BRACKET.sub(" ", text)
    name = _clean(text)
    annotations = tuple(note for note in (_clean(n) for n in notes) if note)
    if not name and annotations:
        # The whole name was bracketed: 【漳州市农业农村局】, （来源：漳州日报）.
        name, annotations = annotations[0], annotations[1:]
    return name, annotations


def _clean(text: str) -> str:
    """Labels, spaces, edge punctuation and site suffixes removed from one name."""
    previous = None
    while text != previous:
        previous = text
        text = _LABEL_START.sub("", text, count=1)
        text = SPACE.sub("", text).strip(_EDGE_PUNCT)
        text = _strip_site_suffix(text)
    return text


def _strip_site_suffix(name: str) -> str:
    """``name`` without a suffix naming its site (网站, 官网, 门户网站, 政府网, 网 …)."""
    if name.endswith(_SITE_SUFFIXES):
        for suffix in _SITE_SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                return name[: -len(suffix)]
    if name.endswith("政府网"):
        # 漳州市政府网 → 漳州市政府, but 中国政府网 is the name of a site.
        return name[:-1] if len(name) >= 5 and name[-4] in _LEVEL_BEFORE_GOV_NET else name
    if name.endswith("网") and len(name) >= 3 and name[-2] in _AGENCY_CHARS_BEFORE_NET:
        return name[:-1]
    return name


def normalise_name(text: str) -> str:
    """The lookup key of an agency name as a 来源 line or a meta tag writes it.

    NFKC; 来源/信息来源/稿源 … labels and colons, the fields after the name
    (作者:, 点击: …), bracketed annotations (【转载】, （记者 张三）), quotes,
    spaces (full-width too), edge punctuation and suffixes naming the site
    (网站, 官网, 门户网站, 政府网 → 政府, 局网 → 局) are removed. A name that is
    wholly bracketed keeps its content. Names of newspapers and portals keep
    their 网/报 (漳州新闻网, 漳州日报).
    """
    return normalise_parts(text)[0]


def clean_host(value: str | None) -> str | None:
    """A lower-case host name from a host, ``host:port`` or URL; None when empty."""
    if not value:
        return None
    value = value.strip()
    if "://" not in value:
        value = "http://" + value
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None
