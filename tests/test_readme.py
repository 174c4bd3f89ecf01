"""The README's two fresh-machine commands are the ones CI and users run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S)
    assert first_block, "README has no command block"
    return [line for line in first_block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_install_and_test_commands() -> None:
    install_and_demo, tests = readme_commands()
    assert "pip install" in install_and_demo and "GOVNEWS_MIRROR=data/snapshot" in install_and_demo
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci


# A crontab entry: five time fields, then the command.
_CRONTAB_LINE = re.compile(r"^(?:[\d*/,-]+\s+){5}(?P<command>\S.*)$", re.M)
_INSTALLED = "cd /srv/govnews && .venv/bin/scrapy "


def cron_command(line: str) -> tuple[str, str]:
    """What cron runs for a crontab command: (shell command, its standard input).

    As crontab(5) says: the command ends at the first ``%`` not escaped by a
    backslash, what follows is its standard input, and ``\\%`` is a plain ``%``.
    """
    command, *stdin = re.split(r"(?<!\\)%", line, maxsplit=1)
    return command.replace("\\%", "%"), "".join(stdin)


def readme_crontab_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [m["command"] for m in _CRONTAB_LINE.finditer(text)]


def test_readme_crontab_lines_are_commands_cron_runs_whole() -> None:
    assert cron_command("date +%F") == ("date +", "F")  # what an unescaped % does
    assert cron_command("date +\\%F") == ("date +%F", "")
    commands = readme_crontab_commands()
    assert len(commands) == 2  # the hourly feed and the nightly crawlall
    for line in commands:
        command, stdin = cron_command(line)
        assert stdin == "", f"cron would cut {line!r} at a bare %"
        assert command.startswith(_INSTALLED)
        checked = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_the_hourly_crontab_line_writes_one_feed_per_run(tmp_path: Path) -> None:
    [hourly] = [c for c in readme_crontab_commands() if " -O " in c]
    command, _ = cron_command(hourly)
    # Run as cron would, from a copy of the install: this checkout's Python, a fresh
    # database and the bundled snapshot instead of the network.
    command = command.replace(_INSTALLED, f"cd {tmp_path} && {sys.executable} -m scrapy ")
    command += f" -s GOVNEWS_MIRROR={ROOT / 'data' / 'snapshot'}"
    command += f" -s GOVNEWS_DATABASE_URL=sqlite:///{tmp_path / 'govnews.db'}"
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = govnews.settings\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["sh", "-c", command], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    [feed] = (tmp_path / "data" / "feeds").iterdir()
    assert re.fullmatch(r"nmgfzw-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(\+00-00)?\.jsonl", feed.name)
    records = [json.loads(line) for line in feed.read_text(encoding="utf-8").splitlines()]
    assert f"'item_scraped_count': {len(records)}," in done.stderr
    assert {r["site"] for r in records} >= {"www.nmgfzw.cn"}
