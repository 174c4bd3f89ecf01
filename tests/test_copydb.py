"""``scrapy copydb``: the snapshot's database copied to a real PostgreSQL and back, row for row.

One crawl of the snapshot into SQLite (session-scoped) is the source of every
test; each copy runs the command in a subprocess, as an operator would.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from govnews.items import Article
from govnews.store.copy import copied_tables
from govnews.store.database import open_database
from govnews.store.models import ArticleRow
from govnews.store.repository import Repository
from tests.conftest import ROOT, SNAPSHOT


def scrapy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copydb(source: str, target: str) -> subprocess.CompletedProcess[str]:
    return scrapy("copydb", "--from", source, "--to", target)


@pytest.fixture(scope="session")
def snapshot_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a SQLite database holding a crawl of the whole snapshot (every table filled)."""
    path = tmp_path_factory.mktemp("copydb") / "snapshot.db"
    url = f"sqlite:///{path}"
    done = scrapy(
        "crawlall",
        "-s", f"GOVNEWS_MIRROR={SNAPSHOT}",
        "-s", f"GOVNEWS_DATABASE_URL={url}",
        "-s", "FEEDS={}",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", "AUTOTHROTTLE_ENABLED=False",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return url


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test opens, disposed after it (before its PostgreSQL database is dropped)."""
    opened: list[Engine] = []
    yield opened
    for engine in opened:
        engine.dispose()


def rows(engine: Engine) -> dict[str, list[str]]:
    """Every table's rows as read through the schema's types, in a backend-free order."""
    with engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in copied_tables()
        }


def export(url: str) -> str:
    done = scrapy("export", "--format", "jsonl", "-o", "-", "-s", f"GOVNEWS_DATABASE_URL={url}")
    assert done.returncode == 0, done.stderr
    return done.stdout


def summary(url: str) -> list[str]:
    """``scrapy summary`` of a database, without its first line (which names the URL)."""
    done = scrapy("summary", "-s", f"GOVNEWS_DATABASE_URL={url}")
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[1:]


def printed_counts(stdout: str) -> dict[str, tuple[int, int]]:
    """The command's table of counts: table -> (source, target)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == ["table", "source", "target"])
    counts = {}
    for line in lines[start + 1 : start + 1 + len(copied_tables())]:
        name, source, target = line.split()
        counts[name] = (int(source), int(target))
    return counts


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The ``govnews:`` line of a failed command, which printed no traceback."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("govnews: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_sqlite_to_postgresql_and_back_keeps_every_row(
    snapshot_database: str, postgres_url: str, tmp_path: Path, engines: list[Engine]
) -> None:
    source = open_database(snapshot_database, create=False)
    target = open_database(postgres_url)
    engines.extend([source, target])
    source_rows = rows(source)
    # The linking outbox is a queue, empty once a run ends (SQLite never fills it).
    filled = {name: found for name, found in source_rows.items() if name != "link_outbox"}
    assert all(filled.values()), "the snapshot's crawl fills every other table"
    assert source_rows["link_outbox"] == []

    done = copydb(snapshot_database, postgres_url)
    assert done.returncode == 0, done.stderr
    assert printed_counts(done.stdout) == {
        name: (len(found), len(found)) for name, found in source_rows.items()
    }
    assert rows(target) == source_rows
    exported = export(snapshot_database)
    assert exported.count("\n") == len(source_rows["articles"])
    assert export(postgres_url) == exported
    assert summary(postgres_url) == summary(snapshot_database)  # an operator's view, too

    # And back, into a new SQLite file: the same rows again.
    back = f"sqlite:///{tmp_path / 'back.db'}"
    assert copydb(postgres_url, back).returncode == 0
    back_engine = open_database(back, create=False)
    engines.append(back_engine)
    assert rows(back_engine) == source_rows

    # Rows inserted after the copy get ids past the copied ones: the sequences were set.
    with Session(target) as session:
        copied_max = session.scalar(select(func.max(ArticleRow.id)))
        repository = Repository(session)
        saved = repository.save_article(
            Article(
                url="http://example.gov.cn/new.html",
                site="example.gov.cn",
                kind="gov",
                title="新文章",
                body_text="正文",
            )
        )
        run = repository.start_run("copydb-test")
        session.commit()
        assert copied_max is not None and saved.row.id == copied_max + 1
        assert run.id == len(source_rows["crawl_runs"]) + 1
    with target.connect() as connection:
        for table in copied_tables():
            column = table.autoincrement_column
            if column is None:
                continue
            sequence = connection.scalar(
                select(func.pg_get_serial_sequence(table.name, column.name))
            )
            greatest = connection.scalar(select(func.max(column))) or 0
            following = connection.scalar(select(func.nextval(sequence)))
            assert following is not None and following > greatest, table.name


def test_a_failed_copy_leaves_the_target_empty(
    snapshot_database: str, postgres_url: str, tmp_path: Path, engines: list[Engine]
) -> None:
    """A value SQLite took but PostgreSQL refuses fails the copy, and every table stays empty."""
    source = tmp_path / "long-kind.db"
    shutil.copyfile(snapshot_database.removeprefix("sqlite:///"), source)
    with sqlite3.connect(source) as connection:  # SQLite does not enforce VARCHAR(16)
        connection.execute("UPDATE articles SET kind = ? WHERE id = 1", ("government" * 3,))
    done = copydb(f"sqlite:///{source}", postgres_url)
    error = one_line_error(done)
    assert "cannot copy table articles into postgresql" in error
    assert "nothing copied: value too long for type character varying(16)" in error
    target = open_database(postgres_url)
    engines.append(target)
    assert not any(rows(target).values())  # agencies, copied before articles, were undone too


def test_counts_that_differ_fail_the_copy(
    snapshot_database: str, postgres_url: str, engines: list[Engine]
) -> None:
    """A target that silently drops rows (a trigger here) fails the check, and keeps nothing."""
    target = open_database(postgres_url)
    engines.append(target)
    with target.begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RETURN NULL; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER drop_failures BEFORE INSERT ON page_failures "
                "FOR EACH ROW EXECUTE FUNCTION drop_row()"
            )
        )
    done = copydb(snapshot_database, postgres_url)
    assert one_line_error(done) == (
        "govnews: row counts differ, nothing copied: page_failures 2 -> 0"
    )
    assert not any(rows(target).values())


def test_a_target_with_rows_is_refused(snapshot_database: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert copydb(snapshot_database, target).returncode == 0
    error = one_line_error(copydb(snapshot_database, target))
    assert error.startswith(f"govnews: the target {target} is not empty (agencies: 17 rows, ")
    copied, source = open_database(target, create=False), open_database(snapshot_database)
    try:  # the refused copy added nothing
        assert rows(copied) == rows(source)
    finally:
        copied.dispose()
        source.dispose()


NO_SERVER = "postgresql+psycopg://govnews@127.0.0.1:1/x"  # nothing listens on port 1


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (
            "sqlite:////nonexistent/govnews.db",
            "sqlite:///{tmp}/t.db",
            "--from: no database at /nonexistent/govnews.db",
        ),
        ("{snapshot}", "not a url", "--to 'not a url' is not a database URL (e.g. sqlite:///"),
        ("{snapshot}", "nosuch://x/y", "--to 'nosuch://x/y': unknown database dialect 'nosuch'"),
        ("{snapshot}", NO_SERVER, f"--to: cannot open the database {NO_SERVER}: "),
        ("{snapshot}", "{snapshot}", "the source and the target are the same database"),
    ],
    ids=["missing source", "not a URL", "unknown dialect", "no server", "same database"],
)
def test_bad_input_is_one_line(
    snapshot_database: str, tmp_path: Path, source: str, target: str, message: str
) -> None:
    fill = {"snapshot": snapshot_database, "tmp": tmp_path}
    done = copydb(source.format(**fill), target.format(**fill))
    assert one_line_error(done).startswith(f"govnews: {message}")
    assert not (tmp_path / "t.db").exists()


def test_the_target_is_required() -> None:
    done = scrapy("copydb", "--from", "sqlite:///x.db")
    assert done.returncode == 2
    assert "give the database to copy into: --to URL" in done.stderr
