"""Shared fixtures: the snapshot, its hand-written expected records, crawls in subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from govnews.mirror.paths import parse_sidecar, sidecar_path, snapshot_path
from govnews.store.database import open_database, session_factory
from tests import servers

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "data" / "snapshot"
EXPECTED = Path(__file__).parent / "expected"
SEED_ORIGINAL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
SEED_REPOST = "http://www.nmgfzw.cn/shgz/20220818/24915.html"


def snapshot_file(url: str) -> Path:
    """The snapshot file that answers a GET of ``url``: the mirror's own rule."""
    return snapshot_path(SNAPSHOT, url)


def snapshot_headers(url: str) -> dict[str, str]:
    """Headers a sidecar ``.http`` file gives the page, if any, as the mirror reads them."""
    sidecar = sidecar_path(snapshot_file(url))
    if not sidecar.exists():
        return {}
    return dict(parse_sidecar(sidecar.read_bytes())[2])


def collect(output: Iterable[Any] | AsyncIterator[Any]) -> list[Any]:
    """Everything a spider callback yields, whether it is a generator or an async one."""
    if isinstance(output, AsyncIterator):

        async def drain() -> list[Any]:
            return [item async for item in output]

        return asyncio.run(drain())
    return list(output)


def assert_stored_as(row: object, record: dict[str, Any]) -> None:
    """A stored ``articles`` row holds every field of an expected record."""
    assert row is not None, f"{record['url']} not stored"
    for name, value in record.items():
        stored = getattr(row, name)
        if name == "published_at":
            assert stored == datetime.fromisoformat(value), record["url"]
        else:
            assert stored == value, f"{record['url']}: {name}"


def expected_records() -> list[dict]:
    """Every hand-written expected article record, from tests/expected/*.json."""
    records: list[dict] = []
    for path in sorted(EXPECTED.glob("*.json")):
        records.extend(json.loads(path.read_text(encoding="utf-8")))
    return records


@pytest.fixture
def crawl(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``scrapy crawl SPIDER`` against the snapshot into a temporary database."""
    database = f"sqlite:///{tmp_path / 'govnews.db'}"

    def run(spider: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            spider,
            "-s",
            f"GOVNEWS_MIRROR={SNAPSHOT}",
            "-s",
            f"GOVNEWS_DATABASE_URL={database}",
            "-s",
            "LOG_LEVEL=INFO",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=False",
            *args,
        ]
        done = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-4000:]}"
            )
        return done

    run.database_url = database  # type: ignore[attr-defined]
    return run


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An empty in-memory govnews database."""
    engine = open_database("sqlite://")
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on :func:`engine`."""
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def crawl_engine(crawl: Callable[..., object]) -> Engine:
    """The engine of the database the ``crawl`` fixture writes into."""
    return open_database(crawl.database_url)  # type: ignore[attr-defined]


# --- real PostgreSQL and Redis servers (tests/servers.py) -------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's ``postgres`` database: CI's, or one started here."""
    url = os.environ.get(servers.POSTGRES_ENV)
    if url:
        yield url
        return
    started, data = servers.start_postgres()
    yield started
    servers.stop_postgres(data)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"govnews_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Redis server: CI's, or one started here."""
    url = os.environ.get(servers.REDIS_ENV)
    if url:
        yield url
        return
    started, pidfile = servers.start_redis(tmp_path_factory.mktemp("redis"))
    yield started
    servers.stop_redis(pidfile)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The Redis server's URL; tests keep apart by the run ids and key prefixes they use."""
    return redis_server
