"""Schema migrations: databases of earlier releases upgraded in place, row for row.

``fixtures/migrations/v1.sql`` and ``v2.sql`` are the tables the first and the
second release made (``create_all`` at d0a885a and a977933, dumped from
sqlite_master); the rows below are filled in through plain sqlite3, as stored
values, so that they stay what those releases wrote while the models change.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event, select

from govnews.store import database, models
from govnews.store.database import (
    database_engine,
    head_revision,
    migration_config,
    migration_connection,
    open_database,
    session_factory,
    unversioned_revision,
    upgrade_database,
)
from tests.conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "migrations"
LINKING_TABLES = {
    "repost_sources",
    "link_suggestions",
    "agencies",
    "agency_names",
    "agency_regions",
    "agency_unknown_names",
    "article_fingerprints",
    "fingerprint_bands",
}

GOV = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
GOV_KEY = "nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
REPOST = "http://www.nmgfzw.cn/shgz/20220818/24915.html"
PENDING = "http://www.nmgfzw.cn/shgz/20220907/25031.html"
PENDING_DECLARED = (
    "http://nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101207718&siteId=60434401"
)
COPY = "http://www.nmgfzw.cn/shgz/20221104/25301.html"


def article(id: int, url: str, kind: str, title: str, **fields: Any) -> dict[str, Any]:
    """A stored ``articles`` row; ``fields`` replace the defaults."""
    site = url.split("/")[2]
    return {
        "id": id,
        "url": url,
        "url_key": url.removeprefix("http://"),
        "site": site,
        "kind": kind,
        "title": title,
        "published_at": "2022-08-18 02:20:00.000000",
        "source_name": "漳州市农业农村局",
        "author": None,
        "editor": "林晓燕",
        "original_title": None,
        "category": "工作动态",
        "declared_original_url": None,
        "declared_original_key": None,
        "body_text": f"{title}。8月18日，市农业农村局召开会议，部署秋冬种生产工作。",
        "body_html": f'<div class="content"><p>{title}。</p></div>',
        "images": f'["http://{site}/uploads/allimg/220818/1-220QQ10R3.jpg"]',
        "attachments": f'[{{"name": "附件1：种植计划.xls", "url": "http://{site}/a/1.xls"}}]',
        "provenance": '{"title": "heading", "published_at": "label:\\u65f6\\u95f4"}',
        "fingerprint": f"{id:064x}",
        "fetched_at": "2026-11-27 07:54:28.601220",
        "first_seen_at": "2026-11-27 07:54:28.610278",
        "updated_at": "2026-11-27 07:54:29.061867",
        **fields,
    }


V1_ROWS: dict[str, list[dict[str, Any]]] = {
    "articles": [
        article(1, GOV, "gov", "漳州市召开2022年秋冬种农业生产工作部署会"),
        article(
            2,
            REPOST,
            "portal",
            "漳州市召开2022年秋冬种农业生产工作部署会",
            editor=None,
            category="社会关注",
            declared_original_url=GOV,
            declared_original_key=GOV_KEY,
            published_at="2022-08-18 08:00:00.000000",
        ),
        article(
            3,
            PENDING,
            "portal",
            "市农业农村局部署防御第11号台风“轩岚诺”农业生产工作",
            images="[]",
            attachments="[]",
            declared_original_url=PENDING_DECLARED,
            declared_original_key=PENDING_DECLARED.removeprefix("http://"),
            published_at=None,
        ),
    ],
    "article_urls": [
        {"url_key": GOV_KEY, "url": GOV, "article_id": 1},
        {
            "url_key": "nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101205076",
            "url": "http://nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101205076",
            "article_id": 1,
        },
        {"url_key": REPOST.removeprefix("http://"), "url": REPOST, "article_id": 2},
        {"url_key": PENDING.removeprefix("http://"), "url": PENDING, "article_id": 3},
    ],
    "reposts": [
        {
            "id": 1,
            "repost_id": 2,
            "original_id": 1,
            "declared_url": GOV,
            "declared_key": GOV_KEY,
            "method": "declared_url",
            "confidence": 1.0,
            "created_at": "2026-11-27 07:54:28.613958",
            "linked_at": "2026-11-27 07:54:29.061867",
        },
        {
            "id": 2,
            "repost_id": 3,
            "original_id": None,
            "declared_url": PENDING_DECLARED,
            "declared_key": PENDING_DECLARED.removeprefix("http://"),
            "method": "declared_url",
            "confidence": 1.0,
            "created_at": "2026-11-27 07:54:28.630944",
            "linked_at": None,
        },
    ],
    "crawl_runs": [
        {
            "id": 1,
            "spider": "zhangzhou",
            "started_at": "2026-11-27 07:54:26.752799",
            "finished_at": "2026-11-27 07:54:27.039314",
            "status": "finished",
            "requests": 32,
            "items_new": 16,
            "items_updated": 0,
            "items_unchanged": 0,
            "failures": 0,
            "links": 0,
            "finish_reason": "finished",
        },
        {
            "id": 2,
            "spider": "nmgfzw",
            "started_at": "2026-11-27 07:54:28.350137",
            "finished_at": None,
            "status": "running",
            "requests": 41,
            "items_new": 23,
            "items_updated": 1,
            "items_unchanged": 4,
            "failures": 2,
            "links": 6,
            "finish_reason": None,
        },
    ],
    "page_failures": [
        {
            "id": 1,
            "url": "http://www.nmgfzw.cn/fzdt/20220901/24986.html",
            "url_key": "www.nmgfzw.cn/fzdt/20220901/24986.html",
            "spider": "nmgfzw",
            "stage": "extract",
            "reason": "soft 404: page says '您访问的页面不存在'",
            "callback": "parse_article",
            "first_failed_at": "2026-11-27 07:54:28.584169",
            "last_failed_at": "2026-11-27 07:54:28.584169",
            "attempts": 1,
            "resolved_at": None,
        },
        {
            "id": 2,
            "url": "http://www.nmgfzw.cn/shgz/20220705/24388.html",
            "url_key": "www.nmgfzw.cn/shgz/20220705/24388.html",
            "spider": "nmgfzw",
            "stage": "http",
            "reason": "HTTP 404",
            "callback": None,
            "first_failed_at": "2026-11-26 07:54:29.074512",
            "last_failed_at": "2026-11-27 07:54:29.074512",
            "attempts": 3,
            "resolved_at": "2026-11-27 07:54:29.080001",
        },
    ],
}

LINKING_ROWS: dict[str, list[dict[str, Any]]] = {
    "articles": [
        article(4, COPY, "portal", "漳州市召开2022年秋冬种农业生产工作部署会", source_name=None)
    ],
    "article_urls": [{"url_key": COPY.removeprefix("http://"), "url": COPY, "article_id": 4}],
    "reposts": [
        {
            "id": 3,
            "repost_id": 4,
            "original_id": 1,
            "declared_url": None,
            "declared_key": None,
            "method": "content",
            "confidence": 0.91,
            "created_at": "2026-11-27 08:01:00.000000",
            "linked_at": "2026-11-27 08:01:00.000000",
        }
    ],
    "repost_sources": [
        {
            "article_id": 2,
            "source_name": "漳州市农业农村局",
            "agency_host": "nyncj.zhangzhou.gov.cn",
            "resolution": "full",
            "published_at": "2022-08-18 08:00:00.000000",
        },
        {
            "article_id": 3,
            "source_name": "漳州日报",
            "agency_host": None,
            "resolution": "unknown",
            "published_at": None,
        },
    ],
    "link_suggestions": [
        {
            "repost_id": 3,
            "candidate_id": 1,
            "score": 0.42,
            "scores": '{"title": 0.3, "content": 0.55, "numbers": 0.0}',
            "created_at": "2026-11-27 08:01:00.000000",
        }
    ],
    "agencies": [
        {
            "id": 1,
            "name": "漳州市农业农村局",
            "host": "nyncj.zhangzhou.gov.cn",
            "region_code": "350600",
            "region_name": "漳州市",
            "origin": "curated",
        },
        {
            "id": 2,
            "name": "厦门市农业农村局",
            "host": None,
            "region_code": None,
            "region_name": None,
            "origin": "page",
        },
    ],
    "agency_names": [
        {"name_key": "漳州市农业农村局", "agency_id": 1, "kind": "full"},
        {"name_key": "漳州市农业局", "agency_id": 1, "kind": "former"},
        {"name_key": "厦门市农业农村局", "agency_id": 2, "kind": "full"},
    ],
    "agency_regions": [
        {"name": "漳州市", "code": "350600", "kind": "current", "origin": "curated"},
        {"name": "龙海市", "code": "350681", "kind": "former", "origin": "curated"},
    ],
    "agency_unknown_names": [
        {
            "name_key": "漳州日报",
            "example": "来源：漳州日报",
            "seen": 2,
            "first_seen_at": "2026-11-27 07:54:28.630944",
            "last_seen_at": "2026-11-27 08:01:00.000000",
        }
    ],
    "article_fingerprints": [
        {
            "article_id": article_id,
            "title_key": "漳州市召开2022年秋冬种农业生产工作部署会",
            "original_title_key": None if article_id == 1 else "秋冬种农业生产工作部署会",
            "minhash": bytes(range(article_id, article_id + 64)),
            "numbers": '["18", "2022", "8"]',
            "length": 1234 + article_id,
            "shingle_count": 321,
        }
        for article_id in (1, 2, 4)
    ],
    "fingerprint_bands": [
        {"band": band, "article_id": article_id}
        for article_id in (1, 4)
        for band in (-9_223_372_036_854_775_808, -17, 4_294_967_296, 9_223_372_036_854_775_807)
    ],
}

V2_ROWS = {
    table: V1_ROWS.get(table, []) + LINKING_ROWS.get(table, [])
    for table in {*V1_ROWS, *LINKING_ROWS}
}


def ddl(fixture: str) -> str:
    """The DDL of a fixture schema file."""
    return (FIXTURES / fixture).read_text(encoding="utf-8")


def linking_ddl(tables: set[str] = LINKING_TABLES) -> str:
    """What the second release's ``create_all`` added to a first-release database.

    Its statements for the linking ``tables`` and their indexes: ``create_all``
    creates missing tables and leaves existing ones (``reposts``) as they are.
    """
    creates = re.compile(r"CREATE (?:TABLE|(?:UNIQUE )?INDEX \w+ ON) (\w+)")
    statements = ddl("v2.sql").split(";\n")
    linking = [s for s in statements if (m := creates.search(s)) and m[1] in tables]
    return ";\n".join(linking) + ";\n"


def build(path: Path, schema_ddl: str, rows: dict[str, list[dict[str, Any]]]) -> str:
    """A database file made with ``schema_ddl`` and filled with ``rows``; its URL."""
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(schema_ddl)
        insert(db, rows)
    return f"sqlite:///{path}"


def insert(db: sqlite3.Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert ``rows`` (table → rows) as they are."""
    for table, table_rows in rows.items():
        for row in table_rows:
            marks = ", ".join("?" * len(row))
            db.execute(
                f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", list(row.values())
            )


def canonical(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    """``rows`` as sorted value tuples per table, to compare with :func:`stored`."""
    return {t: sorted((tuple(row.values()) for row in r), key=repr) for t, r in rows.items()}


def stored(path: Path, rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row ``path`` holds in the tables of ``rows``, in their columns, sorted."""
    with closing(sqlite3.connect(path)) as db:
        return {
            table: sorted(
                db.execute(f"SELECT {', '.join(table_rows[0])} FROM {table}").fetchall(), key=repr
            )
            for table, table_rows in rows.items()
        }


def schema(path: Path) -> dict[str, Any]:
    """The schema of a SQLite file as SQLite sees it: columns, keys, indexes, row ids.

    Names of the indexes SQLite makes for UNIQUE and PRIMARY KEY constraints
    (``sqlite_autoindex_…``) are left out: they follow the order of constraints.
    """
    described: dict[str, Any] = {}
    with closing(sqlite3.connect(path)) as db:
        tables = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT IN ('alembic_version', 'sqlite_sequence')"
        ).fetchall()
        for table, sql in tables:
            indexes = set()
            for _, name, unique, origin, partial in db.execute(f"PRAGMA index_list('{table}')"):
                columns = tuple(row[2] for row in db.execute(f"PRAGMA index_info('{name}')"))
                indexes.add((name if origin == "c" else origin, unique, partial, columns))
            described[table] = {
                "columns": db.execute(f"PRAGMA table_xinfo('{table}')").fetchall(),
                "foreign_keys": sorted(
                    row[2:] for row in db.execute(f"PRAGMA foreign_key_list('{table}')")
                ),
                "indexes": indexes,
                "without_rowid": "WITHOUT ROWID" in sql.upper(),
            }
    return described


def models_schema(tmp_path: Path) -> dict[str, Any]:
    """The :func:`schema` of a new database made by :func:`open_database`."""
    open_database(f"sqlite:///{tmp_path / 'models.db'}").dispose()
    return schema(tmp_path / "models.db")


def dump(path: Path) -> list[str]:
    """Every statement that rebuilds ``path``, rows included."""
    with closing(sqlite3.connect(path)) as db:
        return list(db.iterdump())


def version(path: Path) -> list[str]:
    """The revisions stamped in ``path``."""
    with closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]


def model_differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the models."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), models.Base.metadata)


def run_revisions(url: str, step: Any, revision: str) -> None:
    """Run the revision scripts themselves: ``step`` is ``command.upgrade`` or ``downgrade``."""
    engine = database_engine(url)
    with migration_connection(engine) as connection:
        step(migration_config(connection=connection), revision)
    engine.dispose()


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines opened by a test, disposed after it."""
    opened: list[Engine] = []
    yield opened
    for engine in opened:
        engine.dispose()


def opened(engines: list[Engine], url: str) -> Engine:
    """:func:`open_database`, disposed after the test."""
    engine = open_database(url)
    engines.append(engine)
    return engine


# -- the revisions are the releases, and the newest is the models ----------------------


def test_revision_0001_is_the_first_release(tmp_path: Path) -> None:
    run_revisions(f"sqlite:///{tmp_path / 'r.db'}", command.upgrade, "0001")
    build(tmp_path / "v1.db", ddl("v1.sql"), {})
    assert schema(tmp_path / "r.db") == schema(tmp_path / "v1.db")


def test_revision_0002_is_the_second_release(tmp_path: Path) -> None:
    run_revisions(f"sqlite:///{tmp_path / 'r.db'}", command.upgrade, "0002")
    build(tmp_path / "v2.db", ddl("v2.sql"), {})
    assert schema(tmp_path / "r.db") == schema(tmp_path / "v2.db")


def test_every_revision_in_turn_gives_the_models(tmp_path: Path, engines: list[Engine]) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    run_revisions(url, command.upgrade, "head")
    assert version(tmp_path / "r.db") == [head_revision()]
    assert model_differences(opened(engines, url)) == []
    # open_database gives an empty database the models by create_all: the same schema.
    assert models_schema(tmp_path) == schema(tmp_path / "r.db")
    assert version(tmp_path / "models.db") == [head_revision()]


def test_revisions_go_down_again_keeping_the_rows(tmp_path: Path) -> None:
    url = build(tmp_path / "g.db", ddl("v1.sql"), V1_ROWS)
    open_database(url).dispose()
    run_revisions(url, command.downgrade, "0001")
    build(tmp_path / "v1.db", ddl("v1.sql"), {})
    assert schema(tmp_path / "g.db") == schema(tmp_path / "v1.db")
    assert stored(tmp_path / "g.db", V1_ROWS) == canonical(V1_ROWS)
    run_revisions(url, command.downgrade, "base")
    assert schema(tmp_path / "g.db") == {}


# -- databases made before Alembic ------------------------------------------------------


@pytest.mark.parametrize(
    ("made_by", "revision"),
    [
        ("nothing", None),
        ("v1", "0001"),
        ("v1 then v2", "0001"),
        ("v1 then v2, interrupted", "0001"),
        ("v2", "0002"),
    ],
)
def test_unversioned_databases_are_recognised(
    tmp_path: Path, made_by: str, revision: str | None
) -> None:
    schema_ddl = {
        "nothing": "CREATE TABLE notes (id INTEGER PRIMARY KEY);",
        "v1": ddl("v1.sql"),
        "v1 then v2": ddl("v1.sql") + linking_ddl(),
        "v1 then v2, interrupted": ddl("v1.sql") + linking_ddl({"agencies", "repost_sources"}),
        "v2": ddl("v2.sql"),
    }[made_by]
    engine = database_engine(build(tmp_path / "u.db", schema_ddl, {}))
    with engine.connect() as connection:
        assert unversioned_revision(connection) == revision
    engine.dispose()


def test_a_database_matching_no_release_is_refused_untouched(tmp_path: Path) -> None:
    url = build(tmp_path / "odd.db", ddl("v2.sql") + "DROP TABLE agency_regions;", {})
    before = schema(tmp_path / "odd.db")
    with pytest.raises(RuntimeError, match="agency_regions"):
        open_database(url)
    assert schema(tmp_path / "odd.db") == before


def test_first_release_database_upgraded_in_place(tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "v1.db"
    engine = opened(engines, build(path, ddl("v1.sql"), V1_ROWS))
    assert version(path) == [head_revision()]
    assert stored(path, V1_ROWS) == canonical(V1_ROWS)
    assert schema(path) == models_schema(tmp_path)
    assert model_differences(engine) == []
    with closing(sqlite3.connect(path)) as db, db:
        insert(db, {"articles": LINKING_ROWS["articles"]})
    with session_factory(engine)() as session:
        pending = session.get(models.ArticleRow, 3)
        assert pending is not None and pending.title.startswith("市农业农村局部署防御第11号台风")
        assert pending.published_at is None and pending.images == []
        # A link found without a declared URL, which the first schema refused.
        session.add(models.Repost(repost_id=4, original_id=1, method="content", confidence=0.9))
        session.commit()
        # Foreign keys are back on, and the rebuilt reposts table cascades.
        session.delete(session.get(models.ArticleRow, 2))
        session.commit()
        reposts = session.scalars(select(models.Repost.repost_id).order_by(models.Repost.id))
        assert list(reposts) == [3, 4]


@pytest.mark.parametrize("added", [LINKING_TABLES, {"agencies", "agency_names"}])
def test_first_release_database_opened_by_the_second_upgraded_in_place(
    tmp_path: Path, engines: list[Engine], added: set[str]
) -> None:
    """Whichever linking tables ``create_all`` added (all, or some if it was cut short)."""
    path = tmp_path / "v1v2.db"
    rows = {t: V2_ROWS[t] for t in V2_ROWS if t in added or t in V1_ROWS}
    rows["reposts"] = V1_ROWS["reposts"]  # the content link could not be stored
    engine = opened(engines, build(path, ddl("v1.sql") + linking_ddl(added), rows))
    assert version(path) == [head_revision()]
    assert stored(path, rows) == canonical(rows)
    assert schema(path) == models_schema(tmp_path)
    assert model_differences(engine) == []
    with closing(sqlite3.connect(path)) as db, db:
        insert(db, {t: r for t, r in LINKING_ROWS.items() if t not in rows})
        insert(db, {"reposts": LINKING_ROWS["reposts"]})


def test_second_release_database_upgraded_in_place(tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "v2.db"
    engine = opened(engines, build(path, ddl("v2.sql"), V2_ROWS))
    assert version(path) == [head_revision()]
    assert stored(path, V2_ROWS) == canonical(V2_ROWS)
    assert schema(path) == models_schema(tmp_path)
    assert model_differences(engine) == []


def test_upgrade_is_logged_with_both_revisions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = build(tmp_path / "v1.db", ddl("v1.sql"), V1_ROWS)
    with caplog.at_level(logging.INFO, logger="govnews.store.database"):
        open_database(url).dispose()
        open_database(url).dispose()
    logged = [r.getMessage() for r in caplog.records if r.name == "govnews.store.database"]
    assert logged == [f"Upgraded database {url} from revision 0001 to {head_revision()}"]


def test_failed_upgrade_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v1.db"
    url = build(path, ddl("v1.sql"), V1_ROWS)
    before = schema(path)
    upgrade = command.upgrade

    def upgrade_then_fail(*args: Any, **kwargs: Any) -> None:
        upgrade(*args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(database.command, "upgrade", upgrade_then_fail)
    with pytest.raises(OSError, match="disk full"):
        open_database(url)
    assert schema(path) == before  # no alembic_version, no new table, reposts as it was
    assert stored(path, V1_ROWS) == canonical(V1_ROWS)
    monkeypatch.undo()
    open_database(url).dispose()
    assert version(path) == [head_revision()]


# -- a current database -----------------------------------------------------------------


def test_current_database_costs_two_small_queries_and_changes_nothing(
    tmp_path: Path, engines: list[Engine]
) -> None:
    path = tmp_path / "v2.db"
    url = build(path, ddl("v2.sql"), V2_ROWS)
    opened(engines, url)
    before = dump(path)
    engine = opened(engines, url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert upgrade_database(engine) == (head_revision(), head_revision())
    # BEGIN, whether alembic_version exists, its row.
    assert [s.split()[0] for s in statements] == ["BEGIN", "PRAGMA", "SELECT"]
    assert dump(path) == before


def test_migrations_run_with_foreign_keys_off_and_the_write_lock_taken(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    engine = open_database(f"sqlite:///{path}")
    with migration_connection(engine) as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        other = sqlite3.connect(path, timeout=0)
        with closing(other), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_two_processes_upgrade_one_database_once(tmp_path: Path) -> None:
    """Two processes open a first-release database while a third writes to it: both wait.

    The database is in rollback-journal mode, as the first release made it.
    Switching it to WAL reads it and then takes its write lock, which SQLite
    refuses at once, without waiting out the busy timeout, while another
    connection holds that lock (and while another process switches, by chance).
    The test holds the write lock until both processes are inside
    ``upgrade_database``, so each one meets the refusal every time, and must
    wait for the writer and then for the other's upgrade.
    """
    path = tmp_path / "v1.db"
    url = build(path, ddl("v1.sql"), V1_ROWS)
    script = (
        "import sys\n"
        "from govnews.store.database import database_engine, head_revision, upgrade_database\n"
        "engine = database_engine(sys.argv[1])\n"
        "head_revision()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "print('upgrading', flush=True)\n"
        "print(*upgrade_database(engine))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    writer = sqlite3.connect(path, isolation_level=None)
    with closing(writer):
        writer.execute("BEGIN IMMEDIATE")  # the write lock, held
        for process in processes:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write("go\n")
            process.stdin.flush()
            assert process.stdout.readline() == "upgrading\n"
        # Refused at once before the fix: a process that has ended by now failed.
        with pytest.raises(subprocess.TimeoutExpired):
            processes[-1].wait(timeout=1)
        assert [process.poll() for process in processes] == [None, None]
        writer.execute("COMMIT")
    results = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    head = head_revision()
    assert sorted(out for out, _ in results) == [f"0001 {head}\n", f"{head} {head}\n"]
    assert stored(path, V1_ROWS) == canonical(V1_ROWS)


# -- scrapy migrate ---------------------------------------------------------------------


def migrate(url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy migrate`` on the database of ``url``."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "migrate", *options, "-s", f"GOVNEWS_DATABASE_URL={url}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def test_scrapy_migrate_upgrades_and_prints_the_revisions(tmp_path: Path) -> None:
    url = build(tmp_path / "v1.db", ddl("v1.sql"), V1_ROWS)
    head = head_revision()
    assert migrate(url).stdout == f"revision before: 0001\nrevision after: {head}\n"
    assert migrate(url).stdout == f"revision before: {head}\nrevision after: {head}\n"
    assert stored(tmp_path / "v1.db", V1_ROWS) == canonical(V1_ROWS)


def test_scrapy_migrate_sql_prints_the_upgrade_without_running_it(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    url = build(path, ddl("v1.sql"), V1_ROWS)
    before = schema(path)
    sql = migrate(url, "--sql").stdout
    assert "ALTER TABLE _alembic_tmp_reposts RENAME TO reposts;" in sql
    assert schema(path) == before
    # The printed SQL, run by hand, does what open_database does.
    with closing(sqlite3.connect(path)) as db:
        db.executescript(sql)
    assert version(path) == [head_revision()]
    assert stored(path, V1_ROWS) == canonical(V1_ROWS)
    assert schema(path) == models_schema(tmp_path)
    assert migrate(url, "--sql").stdout == f"-- already at revision {head_revision()}\n"


def test_scrapy_migrate_sql_stamps_a_second_release_database(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    url = build(path, ddl("v2.sql"), V2_ROWS)
    sql = migrate(url, "--sql").stdout
    assert "INSERT INTO alembic_version (version_num) VALUES ('0002')" in sql
    assert "CREATE TABLE alembic_version" in sql
    with closing(sqlite3.connect(path)) as db:
        db.executescript(sql)
    assert version(path) == [head_revision()]
    assert stored(path, V2_ROWS) == canonical(V2_ROWS)
