"""Real PostgreSQL and Redis servers for the tests, started in a directory of their own.

``.ci/run`` starts both before the tests (``python -m tests.servers start DIR``
prints the ``export`` lines of their URLs) and the tests read
``GOVNEWS_TEST_POSTGRES_URL`` and ``GOVNEWS_TEST_REDIS_URL``. Where those are not
set (a developer's ``pytest``), the session fixtures of ``tests/conftest.py``
start the servers themselves with the same functions and stop them at the end.
Both listen on 127.0.0.1 only, on a free port; PostgreSQL runs as the
``postgres`` user when started by root (``initdb`` refuses root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POSTGRES_ENV = "GOVNEWS_TEST_POSTGRES_URL"
REDIS_ENV = "GOVNEWS_TEST_REDIS_URL"
STARTUP_WAIT = 30.0


class ServerError(RuntimeError):
    """A test server could not be started."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path:
    """The directory of the newest PostgreSQL server binaries on the machine."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name)
    )
    if not versions:
        raise ServerError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    return versions[-1]


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when this process is root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def start_postgres() -> tuple[str, Path]:
    """Initialise and start a PostgreSQL cluster in a new directory; (URL, data dir).

    The directory is made in the system's temporary directory, whose path the
    ``postgres`` user can walk (a root-owned 0700 parent would lock it out).
    """
    binaries = postgres_bin()
    directory = Path(tempfile.mkdtemp(prefix="govnews-postgres-"))
    data = directory / "pgdata"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={directory} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(directory / "postgres.log"),
                "-w",
                "-t",
                str(int(STARTUP_WAIT)),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data


def stop_postgres(data: Path) -> None:
    """Stop the cluster in ``data`` (fast shutdown)."""
    subprocess.run(
        _as_postgres([str(postgres_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
        check=False,
        capture_output=True,
    )
    shutil.rmtree(data.parent, ignore_errors=True)


def start_redis(directory: Path) -> tuple[str, Path]:
    """Start redis-server on 127.0.0.1, persisting nothing; (URL, pid file)."""
    server = shutil.which("redis-server")
    if server is None:
        raise ServerError("redis-server is not installed (apt-get install redis-server)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pidfile = directory / "redis.pid"
    subprocess.run(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--dir",
            str(directory),
            "--logfile",
            str(directory / "redis.log"),
        ],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + STARTUP_WAIT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0", pidfile
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"redis-server did not answer on 127.0.0.1:{port}")


def stop_redis(pidfile: Path) -> None:
    """Stop the redis-server whose pid is in ``pidfile``."""
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pidfile.read_text().strip()), 15)


def main(argv: list[str]) -> int:
    """``start DIR``: start both servers (Redis in DIR); print the ``export`` lines."""
    if len(argv) != 2 or argv[0] != "start":
        print("usage: python -m tests.servers start DIR", file=sys.stderr)
        return 2
    directory = Path(argv[1]).resolve()
    postgres, _ = start_postgres()
    redis, _ = start_redis(directory / "redis")
    print(f"export {POSTGRES_ENV}={postgres}")
    print(f"export {REDIS_ENV}={redis}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
