"""robots.txt is obeyed even for requests queued while it downloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

SPIDER = """
import scrapy


class Eager(scrapy.Spider):
    name = "eager"
    # Four requests to one host at once: all four wait for its robots.txt.
    start_urls = [f"http://www.example.gov.cn/{name}.html" for name in ("a", "b", "c")] + [
        "http://www.example.gov.cn/private/d.html"
    ]

    def parse(self, response):
        yield {"url": response.url}
"""


def crawl(tmp_path: Path, robots_middleware: str) -> set[str]:
    site = tmp_path / "snapshot" / "www.example.gov.cn"
    (site / "private").mkdir(parents=True)
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    for name in ("a", "b", "c", "private/d"):
        (site / f"{name}.html").write_text(f"<html><body><p>{name}</p></body></html>")
    (tmp_path / "eager.py").write_text(textwrap.dedent(SPIDER))
    middlewares = {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        robots_middleware: 100,
        "govnews.mirror.addon.MirrorMiddleware": 950,
    }
    settings = {
        "GOVNEWS_MIRROR": str(tmp_path / "snapshot"),
        "DOWNLOADER_MIDDLEWARES": json.dumps(middlewares),
        "ROBOTSTXT_OBEY": "True",
    }
    command = [sys.executable, "-m", "scrapy", "runspider", "eager.py", "-O", "out.jsonl"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    return {json.loads(line)["url"].rsplit("/", 1)[-1] for line in lines}


def test_govnews_middleware_obeys_robots_for_every_queued_request(tmp_path: Path) -> None:
    assert crawl(tmp_path, "govnews.crawl.robotstxt.RobotsTxtMiddleware") == {
        "a.html",
        "b.html",
        "c.html",
    }
