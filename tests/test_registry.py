"""The agency registry: normalising 来源 names, resolving, completing, learning, storing."""

from __future__ import annotations

import argparse
import time
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session

from govnews.commands.relink import Command as RelinkCommand
from govnews.link.agencies import (
    BUNDLED_AGENCIES_FILE,
    AgencyRegistry,
    ResolveContext,
    normalise_name,
    region_short_name,
    unknown_names,
)
from govnews.store import agencies as tables
from govnews.store.database import open_database
from govnews.store.models import Base

NYNCJ = "nyncj.zhangzhou.gov.cn"


@pytest.fixture
def registry() -> AgencyRegistry:
    return AgencyRegistry.from_toml()


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    tables.create_tables(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


# -- normalisation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("漳州市农业农村局", "漳州市农业农村局"),
        ("来源:漳州市农业农村局", "漳州市农业农村局"),
        ("来源：漳州市农业农村局", "漳州市农业农村局"),
        ("信息来源： 漳州市农业农村局", "漳州市农业农村局"),
        ("稿源:漳州市农业农村局", "漳州市农业农村局"),
        ("摘自漳州日报", "漳州日报"),
        ("来源:来源:漳州市农业农村局", "漳州市农业农村局"),
        ("漳州市农业农村局网站", "漳州市农业农村局"),
        ("漳州市农业农村局官网", "漳州市农业农村局"),
        ("漳州市农业农村局门户网站", "漳州市农业农村局"),
        ("漳州市农业农村局网", "漳州市农业农村局"),
        ("漳州市人民政府门户网站", "漳州市人民政府"),
        ("漳州市政府网", "漳州市政府"),
        ("漳州市农业农村局微信公众号", "漳州市农业农村局"),
        ("漳州日报", "漳州日报"),
        ("漳州新闻网", "漳州新闻网"),
        ("农民工法治网", "农民工法治网"),
        ("中国政府网", "中国政府网"),
        ("《闽南日报》", "闽南日报"),
        ("【漳州市农业农村局】", "漳州市农业农村局"),
        ("〔漳州市农业农村局〕", "漳州市农业农村局"),
        ("漳州市农业农村局（转载）", "漳州市农业农村局"),
        ("漳州市农业农村局(原漳州市农业局)", "漳州市农业农村局"),
        ("漳州日报【记者 张三】", "漳州日报"),
        ("（来源：漳州日报）", "漳州日报"),
        ("漳 州 市 农业农村局", "漳州市农业农村局"),
        ("\u3000漳州市农业农村局\u3000", "漳州市农业农村局"),
        ("漳州市农业农村局\xa0\u200b", "漳州市农业农村局"),
        ("漳州市农业农村局。", "漳州市农业农村局"),
        ("漳州市农业农村局；", "漳州市农业农村局"),
        ("ＡＢＣ漳州市农业农村局", "ABC漳州市农业农村局"),
        ("中国·漳州", "中国漳州"),
        ("漳州市农业农村局 作者:佚名 点击:", "漳州市农业农村局"),
        ("时间:2022-08-18 来源:漳州市农业农村局 作者:佚名", "漳州市农业农村局"),
        ("来源：漳州市农业农村局 2022-08-18", "漳州市农业农村局"),
        ("", ""),
        ("来源：", ""),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


def test_region_short_name() -> None:
    assert region_short_name("漳州市") == "漳州"
    assert region_short_name("芗城区") == "芗城"
    assert region_short_name("福建省") == "福建"
    assert region_short_name("东山县") == "东山"
    assert region_short_name("广西壮族自治区") == "广西壮族"
    assert region_short_name("沙县") is None


# -- the curated file ----------------------------------------------------------


def test_curated_file(registry: AgencyRegistry) -> None:
    nyncj = registry.agency("漳州市农业农村局")
    assert nyncj is not None
    assert (nyncj.host, nyncj.region_code, nyncj.region_name) == (NYNCJ, "350600", "漳州市")
    assert nyncj.origin == "curated"
    assert registry.agency("漳州市人民政府").host == "www.zhangzhou.gov.cn"  # type: ignore[union-attr]
    assert registry.agency("漳州市住房和城乡建设局").host == "jsj.zhangzhou.gov.cn"  # type: ignore[union-attr]
    assert registry.region("350681").name == "龙海区"  # type: ignore[union-attr]
    assert registry.conflicts == []
    assert {a.name for a in registry.agencies_at("www.longhai.gov.cn")} == {
        "龙海区人民政府",
        "龙海区农业农村局",
    }


def test_curated_names_carry_their_region() -> None:
    """A short or former name without its region would be completion's job, never an alias."""
    data = tomllib.loads(BUNDLED_AGENCIES_FILE.read_text("utf-8"))
    registry = AgencyRegistry.from_toml()
    for entry in data["agency"]:
        assert len(entry["region_code"]) == 6 and entry["region_code"].isdigit()
        for name in (entry["name"], *entry.get("short", []), *entry.get("former", [])):
            assert registry.find_regions(name[:4]), name
            assert normalise_name(name) == name
            assert registry.agency(name).name == entry["name"]  # type: ignore[union-attr]


def test_curated_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[region]]\ncode = "350600"\nname = "漳州市"\n'
        '[[agency]]\nname = "漳州市农业农村局"\nregion_code = "350600"\nregion_name = "厦门市"\n',
        "utf-8",
    )
    with pytest.raises(ValueError, match="厦门市"):
        AgencyRegistry.from_toml(path)


XIAMEN_FILE = """
[[region]]
code = "350200"
name = "厦门市"

[[agency]]
name = "厦门市农业农村局"
host = "nyncj.xm.gov.cn"
region_code = "350200"
region_name = "厦门市"
short = ["厦门农业农村局"]
"""


def test_the_bundled_file_ships_as_package_data() -> None:
    bundled = resources.files("govnews.link.agencies").joinpath("agencies.toml")
    assert bundled.is_file()
    assert bundled.read_text("utf-8") == BUNDLED_AGENCIES_FILE.read_text("utf-8")
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text("utf-8"))
    package_data = project["tool"]["setuptools"]["package-data"]
    assert "agencies.toml" in package_data["govnews.link.agencies"]
    # The setting's default is that file.
    settings = Settings()
    settings.setmodule("govnews.settings")
    assert Path(settings["GOVNEWS_AGENCIES_FILE"]) == BUNDLED_AGENCIES_FILE


def test_the_crawl_reads_the_agencies_file_of_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``scrapy relink`` (as the crawl) starts from GOVNEWS_AGENCIES_FILE, not the bundled file."""
    path = tmp_path / "xiamen.toml"
    path.write_text(XIAMEN_FILE, "utf-8")
    database = f"sqlite:///{tmp_path / 'govnews.db'}"
    open_database(database).dispose()  # relink reads a crawl's database: it must exist
    command = RelinkCommand()
    command.settings = Settings()
    command.settings.setmodule("govnews.settings")
    command.settings.setdict(
        {"GOVNEWS_DATABASE_URL": database, "GOVNEWS_AGENCIES_FILE": str(path)}, priority="cmdline"
    )
    command.run([], argparse.Namespace(since=None, site=None, workers=1))
    assert "0 link(s) changed" in capsys.readouterr().out
    engine = create_engine(database)
    with Session(engine) as session:
        stored = set(session.scalars(select(tables.Agency.name)))
        assert stored == {"厦门市农业农村局"}  # the bundled Zhangzhou agencies were not read
        loaded = AgencyRegistry.load(session, path=None)
        assert loaded.resolve("厦门农业农村局").host == "nyncj.xm.gov.cn"
        assert AgencyRegistry.load(session, path).resolve("漳州农业农村局").unknown
    engine.dispose()


# -- exact and alias ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "method", "kind"),
    [
        ("漳州市农业农村局", "exact", "full"),
        ("来源：漳州市农业农村局", "exact", "full"),
        ("漳州市农业农村局网站", "exact", "full"),
        ("【漳州市农业农村局】", "exact", "full"),
        ("漳州农业农村局", "alias", "short"),
        ("漳州市农业局", "alias", "former"),
        ("漳州市农业局网站", "alias", "former"),
        ("转载（漳州市农业农村局）", "exact", "full"),
    ],
)
def test_exact_and_alias(registry: AgencyRegistry, raw: str, method: str, kind: str) -> None:
    result = registry.resolve(raw)
    assert not result.unknown
    assert result.agency is not None and result.agency.name == "漳州市农业农村局"
    assert (result.method, result.kind) == (method, kind)
    assert (result.host, result.region_code) == (NYNCJ, "350600")


def test_aliases_of_other_agencies(registry: AgencyRegistry) -> None:
    assert registry.resolve("漳州市住建局").host == "jsj.zhangzhou.gov.cn"
    assert registry.resolve("漳州市环保局").agency.name == "漳州市生态环境局"  # type: ignore[union-attr]
    assert registry.resolve("漳州市政府网").agency.name == "漳州市人民政府"  # type: ignore[union-attr]
    former = registry.resolve("龙海市农业农村局")
    assert (former.agency.name, former.kind) == ("龙海区农业农村局", "former")  # type: ignore[union-attr]


def test_a_newspaper_is_not_an_agency(registry: AgencyRegistry) -> None:
    for name in ("漳州日报", "闽南日报", "漳州新闻网", "农民工法治网"):
        result = registry.resolve(name)
        assert result.unknown and result.name == name and result.reason == "unregistered"


# -- completion --------------------------------------------------------------------


def test_region_in_the_name_completes(registry: AgencyRegistry) -> None:
    for raw, expected in [
        ("芗城农业农村局", "芗城区农业农村局"),
        ("漳州市芗城区农业农村局", "芗城区农业农村局"),
        ("福建省漳州市农业农村局", "漳州市农业农村局"),
        ("龙海农业农村局", "龙海区农业农村局"),
        ("长泰县农业农村局", "长泰区农业农村局"),
        ("市农业农村局（漳州）", "漳州市农业农村局"),
        ("漳州市人社局网站", "漳州市人力资源和社会保障局"),
        ("漳州市市场监督管理局", "漳州市市场监督管理局"),
    ]:
        result = registry.resolve(raw)
        assert result.agency is not None and result.agency.name == expected, raw
    assert registry.resolve("芗城农业农村局").method == "completed"
    # The region named is not the agency's: no completion to another region.
    assert registry.resolve("诏安县农业农村局").unknown
    assert registry.resolve("福建省芗城农业农村局").agency.name == "芗城区农业农村局"  # type: ignore[union-attr]
    # A region inside another it does not belong to, or after an unknown one.
    assert registry.resolve("龙海区芗城区农业农村局").unknown
    assert registry.resolve("广东省漳州市农业农村局").unknown


def test_no_context_no_completion(registry: AgencyRegistry) -> None:
    for name in ("市农业农村局", "农业农村局", "区农业农村局", "市政府"):
        result = registry.resolve(name)
        assert result.unknown and result.reason == "no-context" and result.candidates


def test_completion_from_the_breadcrumb(registry: AgencyRegistry) -> None:
    context = registry.page_context("首页 > 地方新闻 > 漳州", "春耕备耕正当时")
    assert context.regions == ("350600",)
    for name in ("市农业农村局", "农业农村局", "漳州农业农村局", "市住建局", "市政府"):
        result = registry.resolve(name, context=context)
        assert result.agency is not None, name
        assert result.agency.region_code == "350600"
    result = registry.resolve("市农业农村局", context=context)
    assert (result.agency.name, result.method) == ("漳州市农业农村局", "completed")  # type: ignore[union-attr]
    assert result.host == NYNCJ
    # A district-level name does not complete to the city.
    assert registry.resolve("区农业农村局", context=context).unknown


def test_completion_from_the_body(registry: AgencyRegistry) -> None:
    context = registry.page_context("芗城区召开2022年农业农村工作会议")
    result = registry.resolve("区农业农村局", context=context)
    assert result.agency is not None and result.agency.name == "芗城区农业农村局"
    assert registry.resolve("区政府", context=context).agency.name == "芗城区人民政府"  # type: ignore[union-attr]


def test_breadcrumb_and_body_together(registry: AgencyRegistry) -> None:
    context = registry.page_context("首页 > 漳州", "芗城区召开农业农村工作会议")
    assert set(context.regions) == {"350600", "350602"}
    assert registry.resolve("市农业农村局", context=context).agency.name == "漳州市农业农村局"  # type: ignore[union-attr]
    assert registry.resolve("区农业农村局", context=context).agency.name == "芗城区农业农村局"  # type: ignore[union-attr]
    ambiguous = registry.resolve("农业农村局", context=context)
    assert ambiguous.unknown and ambiguous.reason == "ambiguous"
    assert ambiguous.candidates == ("漳州市农业农村局", "芗城区农业农村局")


def test_two_regions_of_one_level_are_ambiguous(registry: AgencyRegistry) -> None:
    """厦门市农业农村局 is not registered, but the source may be it: refused, not guessed."""
    context = ResolveContext(regions=("漳州", "厦门市"))
    registry.add_region("350200", "厦门市")
    result = registry.resolve("市农业农村局", context=context)
    assert result.unknown and result.reason == "ambiguous"
    context = ResolveContext(regions=("芗城", "龙文区"))
    assert registry.resolve("区政府", context=context).unknown


def test_other_agencies_on_the_page(registry: AgencyRegistry) -> None:
    context = ResolveContext(agencies=("漳州市人民政府办公室",))
    assert registry.resolve("市农业农村局", context=context).agency.name == "漳州市农业农村局"  # type: ignore[union-attr]


def test_context_of_an_article(registry: AgencyRegistry) -> None:
    article = SimpleNamespace(
        title="芗城区推进高标准农田建设",
        original_title=None,
        category="地方动态",
        body_text="近日，区农业农村局组织召开现场会。中华安全生产……",
    )
    context = ResolveContext.of(article)
    assert context.texts == ("芗城区推进高标准农田建设", "地方动态")
    result = registry.resolve("区农业农村局", context=context)
    assert result.agency is not None and result.agency.name == "芗城区农业农村局"
    assert result.how == "completed"
    # The body counts with full region names only: 华安 in 中华安全 is no region.
    body_only = ResolveContext(body="中华安全生产月活动在县里举行")
    assert registry.resolve("县农业农村局", context=body_only).how == "no-context"
    body_full = ResolveContext(body="漳浦县召开春耕生产会")
    assert registry.resolve("县农业农村局", context=body_full).agency.name == "漳浦县农业农村局"  # type: ignore[union-attr]
    assert registry.resolve("农业农村局").how == "no-context"
    assert registry.resolve("漳州日报").how == "unregistered"
    assert registry.resolve("漳州农业农村局").how == "alias"


def test_context_tiers(registry: AgencyRegistry) -> None:
    related = ResolveContext(related_regions=("350602",))
    assert registry.resolve("农业农村局", context=related).agency.name == "芗城区农业农村局"  # type: ignore[union-attr]
    default = ResolveContext(default_region="漳州市")
    assert registry.resolve("农业农村局", context=default).agency.name == "漳州市农业农村局"  # type: ignore[union-attr]
    # The page's own region beats the related articles' and the default.
    page_first = ResolveContext(
        regions=("龙海",), related_regions=("350602",), default_region="漳州"
    )
    assert registry.resolve("农业农村局", context=page_first).agency.name == "龙海区农业农村局"  # type: ignore[union-attr]
    # A page region with no fitting agency falls through to the next tier.
    fall_through = ResolveContext(regions=("诏安县",), default_region="350600")
    assert registry.resolve("市农业农村局", context=fall_through).agency.name == "漳州市农业农村局"  # type: ignore[union-attr]
    # Codes work like names; a former code like the current one.
    by_code = registry.resolve("区农业农村局", context=ResolveContext(regions=("350681",)))
    assert by_code.agency is not None and by_code.agency.name == "龙海区农业农村局"


def test_a_level_char_that_is_part_of_the_name(registry: AgencyRegistry) -> None:
    """市场监督管理局 starts with 市 but is not 市 + 场监督管理局."""
    context = ResolveContext(regions=("漳州",))
    for name in ("市场监督管理局", "市市场监督管理局", "市场监管局"):
        result = registry.resolve(name, context=context)
        assert result.agency is not None and result.agency.name == "漳州市市场监督管理局", name


def test_former_level_name(registry: AgencyRegistry) -> None:
    """龙海 was a 市 until 2021: 市农业农村局 on a 龙海 page is its 农业农村局."""
    result = registry.resolve("市农业农村局", context=ResolveContext(regions=("龙海",)))
    assert result.agency is not None and result.agency.name == "龙海区农业农村局"


def test_find_regions(registry: AgencyRegistry) -> None:
    assert registry.find_regions("福建省漳州市芗城区") == ("350000", "350600", "350602")
    assert registry.find_regions("龙海市") == ("350604",)
    # 华安 is a county and in 中华安全: why short forms are optional.
    assert registry.find_regions("中华安全生产月") == ("350629",)
    assert registry.find_regions("中华安全生产月", short_forms=False) == ()
    assert registry.find_regions("") == ()


# -- learning from government pages -------------------------------------------------


def test_learn_from_a_gov_page() -> None:
    registry = AgencyRegistry()
    agency = registry.learn("漳州市农业农村局", NYNCJ, "3506000040", "漳州市农业农村局", NYNCJ)
    assert agency is not None
    assert (agency.name, agency.host, agency.region_code, agency.origin) == (
        "漳州市农业农村局",
        NYNCJ,
        "350600",
        "page",
    )
    result = registry.resolve("来源：漳州市农业农村局网站")
    assert (result.method, result.host, result.region_code) == ("exact", NYNCJ, "350600")


def test_learn_fills_a_curated_agency_and_keeps_its_host(registry: AgencyRegistry) -> None:
    agency = registry.learn("漳州市农业农村局", NYNCJ, "3506000040", None, NYNCJ)
    assert agency is not None and agency.origin == "curated"
    other = "other.zhangzhou.gov.cn"
    assert registry.learn("漳州市农业农村局", None, None, None, other) is not None
    assert registry.agency("漳州市农业农村局").host == NYNCJ  # type: ignore[union-attr]
    assert registry.conflicts and "other.zhangzhou.gov.cn" in registry.conflicts[0]


def test_learn_new_agency_region_and_unit(registry: AgencyRegistry) -> None:
    xm = "www.xm.gov.cn"
    government = registry.learn("厦门市人民政府", xm, "3502000001", None, xm)
    assert government is not None and government.region_name == "厦门市"
    assert registry.region("350200").name == "厦门市"  # type: ignore[union-attr]
    agency = registry.learn(
        "厦门市农业农村局",
        None,
        "3502000033",
        "厦门市农业农村局办公室",
        "https://nyncj.xm.gov.cn/x",
    )
    assert agency is not None and agency.host == "nyncj.xm.gov.cn"
    unit = registry.resolve("厦门市农业农村局办公室")
    assert (unit.agency.name, unit.kind) == ("厦门市农业农村局", "site")  # type: ignore[union-attr]
    assert registry.resolve("厦门农业农村局").method == "completed"
    # A newspaper in ContentSource is not a name of the site's agency.
    registry.learn("厦门市农业农村局", None, "3502000033", "厦门日报", "nyncj.xm.gov.cn")
    assert registry.resolve("厦门日报").unknown


def test_learn_site_brand_and_shared_hosts(registry: AgencyRegistry) -> None:
    portal = "www.zhangzhou.gov.cn"
    agency = registry.learn("中国·漳州", portal, "3506000001", None, portal)
    assert agency is not None and agency.name == "漳州市人民政府"
    assert registry.resolve("中国漳州").kind == "site"
    # A department on a shared county portal is an agency of its own, in the current region.
    school = registry.learn("龙海区教育局", None, "3506810012", None, "www.longhai.gov.cn")
    assert school is not None and (school.name, school.region_code) == ("龙海区教育局", "350604")
    assert registry.agency("龙海区人民政府").name == "龙海区人民政府"  # type: ignore[union-attr]


def test_learn_refuses_names_without_region(registry: AgencyRegistry) -> None:
    before = len(registry)
    registry.learn("农业农村局", None, "3506000099", None, "nyncj.example.gov.cn")
    registry.learn("市农业农村局", None, "3506000099", None, "nyncj.example.gov.cn")
    registry.learn("本站", None, None, None, "www.zhangzhou.gov.cn")
    assert len(registry) == before
    assert registry.resolve("农业农村局").unknown
    assert registry.resolve("本站").reason == "not-a-name"
    assert registry.learn(None, None, None, None, None) is None


def test_learn_from_an_article(session: Session) -> None:
    registry = AgencyRegistry()
    page = SimpleNamespace(
        kind="gov",
        site=NYNCJ,
        url=f"http://{NYNCJ}/cms/html/zzsnyj/2022-08-18/2101205076.html",
        source_name="漳州市农业农村局",
        site_meta={"SiteName": "漳州市农业农村局", "SiteIDCode": "3506000040"},
    )
    agency = registry.learn_from_article(page, session)
    assert agency is not None and (agency.host, agency.region_code) == (NYNCJ, "350600")
    # Saved at once: a registry loaded from the database knows it.
    assert AgencyRegistry.load(session, path=None).agency("漳州市农业农村局") == agency
    portal = SimpleNamespace(kind="portal", site="www.nmgfzw.cn", site_name="农民工法治网")
    assert registry.learn_from_article(portal) is None
    attributes = SimpleNamespace(
        kind="gov",
        site="www.zhangzhou.gov.cn",
        site_name="漳州市人民政府",
        site_id_code="3506000001",
    )
    assert registry.learn_from_article(attributes).name == "漳州市人民政府"  # type: ignore[union-attr]


# -- unknown names -----------------------------------------------------------------


def test_unknown_names_are_kept_and_reported(registry: AgencyRegistry) -> None:
    result = registry.resolve("来源：漳州市交通运输局网站")
    assert result.unknown and result.agency is None and result.name == "漳州市交通运输局"
    registry.resolve("漳州市交通运输局")
    registry.resolve("漳州日报")
    registry.resolve("漳州日报", record=False)
    registry.resolve("佚名")
    registry.resolve("本网")
    registry.resolve("")
    registry.resolve("漳州市农业农村局")
    report = registry.unknown_names()
    assert [(row.name, row.count) for row in report] == [("漳州市交通运输局", 2), ("漳州日报", 1)]
    assert report[0].example == "来源：漳州市交通运输局网站"
    assert unknown_names(registry, limit=1) == report[:1]
    # Once the name is known it leaves the report.
    registry.add_agency("漳州市交通运输局", "jtj.zhangzhou.gov.cn", "350600")
    assert [row.name for row in registry.unknown_names()] == ["漳州日报"]


# -- persistence ---------------------------------------------------------------------


def test_tables_come_with_the_common_metadata() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    assert {"agencies", "agency_names", "agency_regions", "agency_unknown_names"} <= set(
        inspect(engine).get_table_names()
    )


def test_save_load_round_trip(registry: AgencyRegistry, session: Session) -> None:
    registry.learn("厦门市人民政府", "www.xm.gov.cn", "3502000001", None, "www.xm.gov.cn")
    office = "厦门市农业农村局办公室"
    registry.learn("厦门市农业农村局", None, "3502000033", office, "nyncj.xm.gov.cn")
    registry.learn("中国·漳州", None, "3506000001", None, "www.zhangzhou.gov.cn")
    registry.resolve("漳州市交通运输局")
    registry.resolve("漳州市交通运输局")
    registry.resolve("市农业农村局")
    registry.save(session)
    session.commit()

    assert session.scalar(select(tables.Agency).where(tables.Agency.name == "厦门市农业农村局"))
    row = session.get(tables.AgencyName, "漳州市农业局")
    assert row is not None and row.kind == "former"
    assert [(u.name, u.count) for u in unknown_names(session)] == [
        ("漳州市交通运输局", 2),
        ("市农业农村局", 1),
    ]

    loaded = AgencyRegistry.load(session)
    assert len(loaded) == len(registry)
    for agency in registry:
        assert loaded.agency(agency.name) == agency
        assert loaded.names_of(agency.name) == registry.names_of(agency.name)
    assert loaded.resolve("中国漳州").agency.name == "漳州市人民政府"  # type: ignore[union-attr]
    assert loaded.resolve("厦门农业农村局").method == "completed"  # the learned region came back
    assert loaded.region("350200").name == "厦门市"  # type: ignore[union-attr]

    # Counts add up over runs; a name that became known is dropped.
    loaded.resolve("漳州市交通运输局")
    loaded.save(session)
    session.commit()
    assert unknown_names(session)[0].count == 3
    loaded.add_agency("漳州市交通运输局", "jtj.zhangzhou.gov.cn", "350600")
    loaded.save(session)
    session.commit()
    assert [u.name for u in unknown_names(session)] == ["市农业农村局"]

    # Saving twice changes nothing; an empty registry loads everything back.
    loaded.save(session)
    session.commit()
    fresh = AgencyRegistry.load(session, path=None)
    assert len(fresh) == len(loaded)
    assert fresh.resolve("漳州农业农村局").host == NYNCJ


def test_load_without_tables_and_save_creates_them() -> None:
    engine = create_engine("sqlite://")
    with Session(engine) as session:
        assert unknown_names(session) == []
        registry = AgencyRegistry.load(session)
        assert registry.agency("漳州市农业农村局") is not None
        registry.save(session)
        session.commit()
        assert len(AgencyRegistry.load(session, path=None)) == len(registry)
    engine.dispose()


def test_curated_file_wins_over_the_database(registry: AgencyRegistry, session: Session) -> None:
    registry.save(session)
    row = session.scalar(select(tables.Agency).where(tables.Agency.name == "漳州市农业农村局"))
    assert row is not None
    row.host = "stale.zhangzhou.gov.cn"
    session.commit()
    loaded = AgencyRegistry.load(session)
    assert loaded.agency("漳州市农业农村局").host == NYNCJ  # type: ignore[union-attr]


# -- speed -------------------------------------------------------------------------


def test_resolving_is_fast(registry: AgencyRegistry) -> None:
    """100,000 names (exact, alias, suffixed, completed, unknown) well under 1 s per 10,000."""
    context = ResolveContext(regions=("350600",))
    names = [
        "漳州市农业农村局",
        "来源：漳州农业农村局网站",
        "漳州市农业局",
        "市农业农村局",
        "漳州日报",
        "漳州市住建局",
    ]
    names += [f"某某单位{i}" for i in range(2000)]  # many distinct unknown names
    workload = [names[i % len(names)] for i in range(100_000)]
    start = time.perf_counter()
    resolved = sum(not registry.resolve(name, context=context).unknown for name in workload)
    elapsed = time.perf_counter() - start
    assert resolved > 0
    assert elapsed / 10 < 0.25, f"{elapsed:.2f} s for 100,000 names"
