"""A generated snapshot of Fujian government CMS sites for the crawl benchmark.

Each host is an agency site of the CMS that ``scrapy crawl zhangzhou -a hosts=…``
crawls (``gen-nyncj.sm.gov.cn``, ``gen-nyncj.putian.gov.cn``, …): a home page
with the latest articles, four columns of articles listed 20 to a page
(``/cms/html/<site>/<column>/index.html``, then
``/cms/sitemanage/index.shtml?siteId=…&page=N``, "共 N 页"), two empty columns
(暂无信息), robots.txt, and article pages ``/cms/html/<site>/YYYY-MM-DD/<id>.html``.
The pages copy the markup of the real site in ``data/snapshot/nyncj.zhangzhou.gov.cn``
(``templates/``); titles, bodies and dates come from the linking benchmark's
generator of government news (``benchmarks/linking/generate.py``). Deterministic
for a seed.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import math
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from benchmarks.linking.generate import DAYS, START, Site, Writer, sites
from govnews.mirror import snapshot_path

TEMPLATES = Path(__file__).with_name("templates")
PER_PAGE = 20
#: Columns with articles: slug, name, share of the site's articles.
COLUMNS = [
    ("gzdt", "工作动态", 5),
    ("tzgg", "通知公告", 2),
    ("xqdt", "县区动态", 2),
    ("zcfg", "政策法规", 1),
]
#: Columns of the navigation with nothing listed.
EMPTY_COLUMNS = [("jgjj", "机构概况"), ("hdjl", "互动交流")]
ROBOTS = """User-agent: *
Disallow: /cms/sitemanage/login
Disallow: /cms/sitemanage/admin/
Disallow: /member/
Disallow: /cms/search/
"""
FIRST_ID = 2_100_000_000
#: How paragraphs of an article body are marked up (one style per article).
PARAGRAPH_STYLES = [
    '<p style="text-indent: 2em; line-height: 2em;">'
    '<span style="font-size:16px;">　　{}</span></p>',
    '<p style="text-indent:2em">{}</p>',
    "<p>　　{}</p>",
]
NO_DATA = '      <li class="no-data">暂无信息</li>'
CURRENT = ' class="cur"'
SPACER = '<p style="text-indent:2em">&nbsp;</p>'
_SLOT = re.compile(r"\{(\w+)\}")
_HREF = re.compile(r'href="([^"]+)"')
# What a generated site links but serves no page for: files, robots.txt's disallowed paths.
_SERVICE_SKIP = re.compile(
    r"\.(?:css|js|ico|png|jpe?g|gif)$|^/cms/(?:search|sitemanage/(?:login|admin))|^/member/"
)


@functools.cache
def template(name: str) -> str:
    """The text of ``templates/<name>``."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


def fill(name: str, **values: object) -> str:
    """Template ``name`` with its ``{slots}`` filled."""
    return _SLOT.sub(lambda match: str(values[match.group(1)]), template(name))


def attr(text: str) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(text, quote=True)


@dataclass(frozen=True)
class Column:
    """A column of a site and the siteId its further list pages are asked with."""

    slug: str
    name: str
    site_id: int


@dataclass
class Host:
    """One generated site of the CMS."""

    site: Site
    folder: str
    site_id: int
    columns: list[Column]
    footer: dict[str, str]

    @property
    def name(self) -> str:
        """The host name."""
        return self.site.host

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this host."""
        return f"http://{self.site.host}{path}"

    def column_path(self, column: Column, page: int = 1) -> str:
        """Page ``page`` of a column's list."""
        if page == 1:
            return f"/cms/html/{self.folder}/{column.slug}/index.html"
        return f"/cms/sitemanage/index.shtml?siteId={column.site_id}&page={page}"


@dataclass
class Article:
    """One generated article page: the truth its extraction is checked against."""

    url: str
    number: int
    host: str
    column: str
    title: str
    published_at: datetime
    source: str
    paragraphs: list[str]
    #: A repost: the URL of the article on another host it copies (title, body, 来源).
    original: str | None = None
    #: A repost that gives its original's URL in a 原文链接 line.
    declares: bool = False

    @property
    def path(self) -> str:
        """The URL's path, as the site's own pages link to it."""
        return urlsplit(self.url).path


@dataclass
class Snapshot:
    """What :func:`generate` wrote."""

    root: Path
    hosts: list[str]
    articles: list[Article]
    #: Every HTML page (home, list pages, articles): a full crawl's pages besides robots.txt.
    urls: list[str]
    #: The other pages the navigation links (about, site map …), which list no article.
    others: list[str]

    @property
    def links(self) -> dict[str, str]:
        """Every repost's URL and its original's: the links a crawl of the snapshot makes."""
        return {a.url: a.original for a in self.articles if a.original}


def cms_sites(count: int) -> list[Site]:
    """The first ``count`` agency sites of the Fujian CMS family, on ``gen-`` hosts.

    Not Zhangzhou's: the curated agency registry
    (``govnews/link/agencies/agencies.toml``) puts those agencies on their real hosts,
    so that every article of a ``gen-`` copy, signed by its agency, would be taken for
    a repost from another site and matched.
    """
    chosen = [
        s
        for s in sites()
        if s.family == "fujian" and s.city != "漳州市" and not s.host.startswith("www.")
    ]
    return [dataclasses.replace(s, host=f"gen-{s.host}") for s in chosen[:count]]


def make_host(rng: random.Random, site: Site, number: int) -> Host:
    """The CMS's set-up of ``site``: folder, siteIds, columns, footer details."""
    agency, city = site.host.removeprefix("gen-").split(".")[:2]
    site_id = 60_434_400 + 1000 * number
    slugs = [*EMPTY_COLUMNS[:1], *((slug, name) for slug, name, _ in COLUMNS), *EMPTY_COLUMNS[1:]]
    columns = [Column(slug, name, site_id + i) for i, (slug, name) in enumerate(slugs, start=1)]
    footer = {
        "city": site.city,
        "county": site.counties[0],
        "postcode": f"3{rng.randint(50000, 69999)}",
        "phone": f"059{rng.randint(1, 9)}-{rng.randint(2000000, 8999999)}",
        "icp": str(rng.randint(10**7, 10**8 - 1)),
        "police": str(rng.randint(10**13, 10**14 - 1)),
    }
    return Host(site, f"{city[:2]}s{agency}", site_id, columns, footer)


def generate(
    root: Path, articles: int, hosts: int = 2, seed: int = 0, reposts: float = 0.0
) -> Snapshot:
    """Write ``articles`` article pages over ``hosts`` sites, and their listings, to ``root``.

    A share ``reposts`` of the articles are reposts of one of the last ten on another
    host: its title and body, its agency as 来源, half of them with a 原文链接 line.
    """
    rng = random.Random(seed)
    writer = Writer(rng)
    made = [make_host(rng, site, number) for number, site in enumerate(cms_sites(hosts))]
    listed = {slug: weight for slug, _, weight in COLUMNS}
    step = DAYS * 86400 / max(articles, 1)
    generated: list[Article] = []
    for number in range(articles):
        when = START + timedelta(seconds=number * step + rng.uniform(0, step))
        host = rng.choice(made)
        slug = rng.choices(list(listed), weights=list(listed.values()))[0]
        copied = [a for a in generated[-10:] if a.host != host.name and not a.original]
        original = rng.choice(copied) if reposts and copied and rng.random() < reposts else None
        if original is None:
            title, paragraphs = writer.article(host.site, when)
        else:
            title, paragraphs = original.title, original.paragraphs
        article_id = FIRST_ID + 17 * number + rng.randrange(17)
        path = f"/cms/html/{host.folder}/{when:%Y-%m-%d}/{article_id}.html"
        generated.append(
            Article(
                url=host.url(path), number=article_id, host=host.name, column=slug,
                title=title, published_at=when.replace(second=0, microsecond=0),
                source=original.source if original else host.site.name, paragraphs=paragraphs,
                original=original.url if original else None,
                declares=original is not None and rng.random() < 0.5,
            )
        )  # fmt: skip
    urls: list[str] = []
    others: list[str] = []
    for host in made:
        (root / host.name).mkdir(parents=True, exist_ok=True)
        (root / host.name / "robots.txt").write_text(ROBOTS, encoding="utf-8")
        newest = sorted(
            (a for a in generated if a.host == host.name), key=lambda a: a.number, reverse=True
        )
        by_column = {c.slug: [a for a in newest if a.column == c.slug] for c in host.columns}
        pages = {host.url("/"): home_page(host, by_column)}
        for column in host.columns:
            pages.update(column_pages(host, column, by_column[column.slug]))
            pages.update(article_pages(rng, host, column, by_column[column.slug]))
        services = service_pages(host, pages)
        for url, text in {**pages, **services}.items():
            file = snapshot_path(root, url)
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
        urls += pages
        others += services
    return Snapshot(root, [host.name for host in made], generated, urls, others)


def service_pages(host: Host, pages: dict[str, str]) -> dict[str, str]:
    """The other pages the template links (about, site map, 信息公开 …), each a short page
    listing nothing: a crawler that explores the site finds no dead link."""
    found: dict[str, str] = {}
    for text in pages.values():
        for href in _HREF.findall(text):
            url = urljoin(host.url("/"), html.unescape(href)).split("#", 1)[0]
            parts = urlsplit(url)
            if parts.hostname != host.name or url in pages or url in found:
                continue
            if parts.scheme not in ("http", "https") or _SERVICE_SKIP.search(parts.path):
                continue
            main = '<div class="w1200 main"><p>本栏目内容正在建设中。</p></div>'
            found[url] = page(host, host.site.name, {}, "list", "", main)
    return found


def page(host: Host, title: str, metas: dict[str, str], css: str, current: str, main: str) -> str:
    """A whole page: head, top bar, navigation (``current`` marked), ``main``, footer."""
    return fill(
        "page.html",
        title=attr(title),
        metas="\n".join(f'<meta name="{k}" content="{attr(v)}" />' for k, v in metas.items()),
        folder=host.folder, css=css, site_name=host.site.name, site_id=host.site_id,
        site_code=host.site.code, nav=navigation(host, current), main=main, **host.footer,
    )  # fmt: skip


def navigation(host: Host, current: str) -> str:
    """The navigation bar's items, ``current`` (a column slug or "home") marked."""
    items = [("home", "/", "首页")]
    for number, column in enumerate(host.columns):
        path = host.column_path(column)
        items.append((column.slug, host.url(path) if number == 1 else path, column.name))
    lines = []
    for slug, href, name in items:
        on = ' class="on"' if slug == current else ""
        lines.append(f'      <li{on}><a href="{href}">{name}</a></li>')
    return "\n".join(lines)


def site_metas(host: Host) -> dict[str, str]:
    """The meta tags that name the site on every page."""
    return {"SiteName": host.site.name, "SiteDomain": host.name, "SiteIDCode": host.site.code}


def short(title: str, limit: int = 24) -> str:
    """A listing's shortened title."""
    return title if len(title) <= limit else title[:limit] + "..."


def news_list(articles: list[Article], count: int, full_date: bool = False) -> str:
    """``<li>`` items linking the first ``count`` articles: a list page's (full dates) or
    the home page's (month and day)."""
    span, date = ("<span>", "%Y-%m-%d") if full_date else ('<span class="date">', "%m-%d")
    return "\n".join(
        f'      <li><a href="{a.path}" title="{attr(a.title)}" target="_blank">'
        f"{attr(short(a.title))}</a>{span}{a.published_at.strftime(date)}</span></li>"
        for a in articles[:count]
    )


def home_page(host: Host, by_column: dict[str, list[Article]]) -> str:
    """The home page: the latest articles of the first three columns."""
    listed = {slug for slug, _, _ in COLUMNS}
    first, second, third = [c for c in host.columns if c.slug in listed][:3]
    latest = by_column[first.slug]
    marquee = "&nbsp;&nbsp;&nbsp;&nbsp;".join(
        f'<a href="{a.path}" target="_blank">{attr(a.title)}</a>' for a in latest[:2]
    )
    pictures = "\n".join(
        f'          <li><a href="{a.url}" target="_blank"><img src="/cms/files/{host.folder}/'
        f'image/{a.published_at:%Y-%m}/{a.number}.jpg" alt="{attr(a.title)}" /></a>'
        f'<p><a href="{a.path}" target="_blank">{attr(short(a.title, 20))}</a></p></li>'
        for a in latest[:3]
    )
    main = fill(
        "home.html",
        marquee=marquee, pictures=pictures, folder=host.folder, site_id=host.site_id,
        first_url=host.column_path(first), first_name=first.name,
        first_news=news_list(latest, 7),
        second_url=host.column_path(second), second_name=second.name,
        second_news=news_list(by_column[second.slug], 5),
        third_url=host.column_path(third), third_name=third.name,
        third_news=news_list(by_column[third.slug], 7),
    )  # fmt: skip
    metas = {
        "keywords": f"{host.site.name},{host.site.short}",
        "description": f"{host.site.name}门户网站",
        **site_metas(host),
    }
    return page(host, host.site.name, metas, "index", "home", main)


def column_pages(host: Host, column: Column, articles: list[Article]) -> dict[str, str]:
    """Every list page of a column, by URL."""
    last = max(1, math.ceil(len(articles) / PER_PAGE))
    side = "\n".join(
        f"      <li{CURRENT if c == column else ''}>"
        f'<a href="{host.column_path(c)}">{c.name}</a></li>'
        for c in host.columns
    )
    metas = {
        "keywords": f"{host.site.name},{column.name}",
        "description": f"{host.site.name}{column.name}栏目",
        "siteIdMeta": str(column.site_id),
        **site_metas(host),
        "ColumnName": column.name,
        "ColumnType": column.name,
    }
    pages = {}
    for number in range(1, last + 1):
        chunk = articles[(number - 1) * PER_PAGE : number * PER_PAGE]
        items = news_list(chunk, PER_PAGE, full_date=True) or NO_DATA
        main = fill(
            "column.html",
            column_url=host.column_path(column), column_name=column.name, side=side,
            items=items, last=last, page=number, pager=pager(host, column, number, last),
        )  # fmt: skip
        title = f"{column.name} - {host.site.name}"
        pages[host.url(host.column_path(column, number))] = page(
            host, title, metas, "list", column.slug, main
        )
    return pages


def pager(host: Host, column: Column, number: int, last: int) -> str:
    """The page links of list page ``number`` of ``last``: ten page numbers around it."""

    def link(target: int, text: str) -> str:
        href = attr(host.column_path(column, target))
        return f'    <a href="{href}">{text}</a>'

    parts = (
        [link(1, "首页"), link(number - 1, "上一页")]
        if number > 1
        else ['    <span class="disabled">首页</span>', '    <span class="disabled">上一页</span>']
    )
    first = max(1, min(number - 4, last - 9))
    for target in range(first, min(last, first + 9) + 1):
        current = f'    <span class="current">{target}</span>'
        parts.append(current if target == number else link(target, str(target)))
    parts += (
        [link(number + 1, "下一页"), link(last, "尾页")]
        if number < last
        else ['    <span class="disabled">下一页</span>', '    <span class="disabled">尾页</span>']
    )
    if last > 1:
        parts.append(
            '    跳转到<input type="text" id="jumpPage" size="2" />页 '
            f'<a href="javascript:void(0);" onclick="jumpTo({column.site_id},{last})">GO</a>'
        )
    return "\n".join(parts)


def article_pages(
    rng: random.Random, host: Host, column: Column, articles: list[Article]
) -> dict[str, str]:
    """The article pages of a column (newest first), each linking its neighbours."""
    pages = {}
    for index, article in enumerate(articles):
        newer = articles[index - 1] if index else None
        older = articles[index + 1] if index + 1 < len(articles) else None
        main = fill(
            "article.html",
            column_url=host.column_path(column), column_name=column.name,
            title=attr(article.title), date=f"{article.published_at:%Y-%m-%d %H:%M}",
            source=attr(article.source), id=article.number, site_id=host.site_id,
            body=body(rng, host, article), newer=neighbour(newer), older=neighbour(older),
        )  # fmt: skip
        description = "".join(article.paragraphs)[:80]
        metas = {
            "keywords": f"{column.name},{host.site.short}",
            "description": description,
            **site_metas(host),
            "ColumnName": column.name,
            "ColumnDescription": "",
            "ColumnKeywords": column.name,
            "ColumnType": column.name,
            "ArticleTitle": article.title,
            "PubDate": f"{article.published_at:%Y-%m-%d %H:%M}",
            "ContentSource": article.source,
            "Keywords": column.name,
            "Author": "",
            "Description": description,
            "Image": "",
            "Url": article.url,
        }
        title = f"{article.title} - {host.site.name}"
        pages[article.url] = page(host, title, metas, "article", column.slug, main)
    return pages


def neighbour(article: Article | None) -> str:
    """The 上一篇/下一篇 link to ``article``, or 没有了."""
    if article is None:
        return "没有了"
    title = attr(article.title)
    return f'<a href="{article.path}" title="{title}">{title}</a>'


def body(rng: random.Random, host: Host, article: Article) -> str:
    """An article's paragraphs as the CMS's editor marks them up, maybe with a photo."""
    style = rng.choice(PARAGRAPH_STYLES)
    spaced = rng.random() < 0.5
    parts: list[str] = []
    for index, paragraph in enumerate(article.paragraphs):
        parts.append(style.format(attr(paragraph)))
        if index == 0 and rng.random() < 0.3:
            parts.append(
                f'<p style="text-align: center;"><img src="/cms/files/{host.folder}/image/'
                f'{article.published_at:%Y-%m}/{article.number}.jpg" alt="照片" width="600" '
                'border="0" style="max-width:100%;" /></p>'
            )
        if spaced:
            parts.append(SPACER)
    if article.original and article.declares:
        url = attr(article.original)
        parts.append(f'<p>原文链接：<a href="{url}" target="_blank">{url}</a></p>')
    return "\n".join(parts)
