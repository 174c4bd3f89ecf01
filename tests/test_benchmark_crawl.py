"""The crawl benchmark's generated snapshot (benchmarks/crawl/site.py) is consistent."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from benchmarks.crawl.site import PER_PAGE, generate
from govnews.extract import extract_article
from govnews.extract.cms.fujian import PAGE_COUNT
from govnews.mirror import SnapshotServer
from govnews.spiders.zhangzhou import ARTICLE_PATH, COLUMN_PATH


def test_every_article_is_listed_once_and_extracts_as_generated(tmp_path: Path) -> None:
    snapshot = generate(tmp_path, 60, hosts=1, seed=1)
    server = SnapshotServer(tmp_path)

    def page(url: str) -> Selector:
        return Selector(text=server.path_for(url).read_text(encoding="utf-8"))

    [host] = snapshot.hosts
    assert (tmp_path / host / "robots.txt").is_file()
    home = f"http://{host}/"
    columns = {
        urljoin(home, href)
        for href in page(home).css("a::attr(href)").getall()
        if COLUMN_PATH.match(urlsplit(urljoin(home, href)).path)
    }
    assert len(columns) == 6
    listed: dict[str, str | None] = {}  # article URL -> the date beside its link
    listings: list[str] = []
    for column in sorted(columns):
        first = page(column)
        site_id = first.css('meta[name="siteIdMeta"]::attr(content)').get()
        more = "http://{}/cms/sitemanage/index.shtml?siteId={}&page={}"
        counted = PAGE_COUNT.search(" ".join(first.css("body ::text").getall()))
        assert counted is not None
        last = int(counted.group(1))
        for number in range(1, last + 1):
            url = column if number == 1 else more.format(host, site_id, number)
            listings.append(url)
            listing = page(url)
            text = " ".join(listing.css("body ::text").getall())
            assert f"共 {last} 页" in text and f"当前第 {number} 页" in text
            items = listing.css("ul#resources li")
            assert len(items) == PER_PAGE or number == last
            for item in items.xpath("self::li[a]"):
                listed[urljoin(url, item.css("a::attr(href)").get())] = item.css("span::text").get()
        assert not server.path_for(more.format(host, site_id, last + 1)).exists()
    assert len(listings) > len(columns)  # pagination is exercised
    assert len(listed) == len(snapshot.articles) == 60
    assert sorted(snapshot.urls) == sorted([home, *listings, *listed])
    for article in snapshot.articles:
        assert ARTICLE_PATH.match(urlsplit(article.url).path)
        assert listed[article.url] == f"{article.published_at:%Y-%m-%d}"
        extracted = extract_article(server.path_for(article.url).read_bytes(), article.url)
        assert extracted.title == article.title
        assert extracted.published_at == article.published_at
        assert extracted.body_text == "\n\n".join(article.paragraphs)
        assert extracted.source_name == article.source


def test_the_snapshot_is_the_same_for_a_seed(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", 20, hosts=2, seed=7)
    two = generate(tmp_path / "two", 20, hosts=2, seed=7)
    assert one.articles == two.articles
    assert len(one.hosts) == 2
    files = sorted(p.relative_to(one.root) for p in one.root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two.root) for p in two.root.rglob("*") if p.is_file())
    assert all((one.root / f).read_bytes() == (two.root / f).read_bytes() for f in files)


def test_reposts_copy_an_article_of_another_host_and_may_declare_it(tmp_path: Path) -> None:
    snapshot = generate(tmp_path, 120, hosts=2, seed=3, reposts=0.2)
    server = SnapshotServer(tmp_path)
    by_url = {article.url: article for article in snapshot.articles}
    reposts = [article for article in snapshot.articles if article.original]
    assert snapshot.links == {article.url: article.original for article in reposts}
    assert 10 < len(reposts) < 40
    assert any(r.declares for r in reposts) and not all(r.declares for r in reposts)
    for repost in reposts:
        assert repost.original is not None
        original = by_url[repost.original]
        assert original.host != repost.host and not original.original
        assert original.published_at <= repost.published_at
        extracted = extract_article(server.path_for(repost.url).read_bytes(), repost.url)
        assert extracted.title == original.title
        assert extracted.source_name == original.source
        assert extracted.body_text == "\n\n".join(original.paragraphs)
        assert extracted.declared_original_url == (original.url if repost.declares else None)
