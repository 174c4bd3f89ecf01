"""The kill -9 matrix: the main job killed at every chosen moment and at random ones.

Each case is ``scrapy crawlall`` over the bundled snapshot (``scrapy migrate`` for one
moment), a real subprocess, killed with a real SIGKILL: by a kill point of
``tests/faults/killpoints.py`` at a chosen moment (mid-batch, between listing pages,
during linking and relinking, during migration), or by this process after a random
delay within a clean run's duration. The job is then run again until a run finishes,
and ``scrapy export`` of the database must equal a clean run's, byte for byte once the
times of fetching and storing are dropped; the articles, links and open failures must
be the clean run's, none twice, and no run may be left ``running``
(:func:`benchmarks.faults.kill_matrix.compare`). The matrix with 30 random kills is
``python -m benchmarks.faults.kill_matrix``; here every chosen moment and a handful of
random ones, two at a time (the machine has two cores), share one reference run. Here
pages are extracted in the crawl's process (``GOVNEWS_EXTRACT_WORKERS=0``: a worker
process's start-up, per crawl, is most of the difference), which stores the same
records; the benchmark crawls with the worker, as cron does.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from benchmarks.faults.kill_matrix import CHOSEN, FINISHED, KillMatrix, Outcome, compare

#: Kills at random moments; seeded, so that a failure can be run again.
RANDOM_KILLS = 2
SEED = 12
#: Random delays fall within this share of the clean run's duration: the kills run two
#: at a time, slower than the clean run alone, so each still lands before the run's end.
WITHIN = 0.75

#: Extraction in the crawl's process: the same records, a start-up less per crawl.
SETTINGS = {"GOVNEWS_EXTRACT_WORKERS": "0"}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> KillMatrix:
    """The matrix's runs, under one directory; its reference is made once and kept."""
    return KillMatrix(tmp_path_factory.mktemp("kill-matrix"), settings=SETTINGS)


@pytest.fixture(scope="module")
def outcomes(matrix: KillMatrix) -> dict[str, Outcome]:
    """Every chosen moment and the random kills, by name (``random-1`` …)."""
    duration = matrix.prepare(CHOSEN, jobs=2)
    rng = random.Random(SEED)
    delays = [rng.uniform(0, WITHIN * duration) for _ in range(RANDOM_KILLS)]
    done = matrix.run_all(CHOSEN, delays, jobs=2)
    names = [moment.name for moment in CHOSEN]
    names += [f"random-{number}" for number in range(1, RANDOM_KILLS + 1)]
    return dict(zip(names, done, strict=True))


def cases() -> list[Any]:
    """The chosen moments, then the random kills."""
    chosen = [moment.name for moment in CHOSEN]
    return [*chosen, *(f"random-{number}" for number in range(1, RANDOM_KILLS + 1))]


@pytest.mark.parametrize("name", cases())
def test_a_killed_job_rerun_equals_a_clean_run(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    log = outcome.workdir / "run.log"
    assert outcome.killed, f"{name}: the job was not killed (see {log})"
    if name in {moment.name for moment in CHOSEN}:
        assert "killpoints: SIGKILL at" in log.read_text("utf-8", errors="replace"), log
    assert outcome.reruns[-1] in FINISHED, f"{name}: no rerun finished: {outcome.reruns}"
    verdict = outcome.verdict
    assert verdict.details == [], f"{name} ({outcome.workdir}):\n" + "\n".join(verdict.details)
    assert (verdict.lost, verdict.duplicated, verdict.extra, verdict.changed) == (0, 0, 0, 0)
    assert verdict.export_equal
    assert verdict.running == 0 and set(outcome.runs) <= {"finished", "killed"}, outcome.runs


def test_a_kill_during_an_upgrade_leaves_the_first_release(outcomes: dict[str, Outcome]) -> None:
    """Killed after a revision was applied, before the next: the upgrade is one transaction,
    so the killed process left the first release's schema (no ``alembic_version``) as it was,
    and the rerun upgraded it from there."""
    for name in ("upgrade-on-open", "scrapy-migrate"):
        assert outcomes[name].killed and outcomes[name].revision is None, name


def test_the_comparison_finds_a_lost_article(matrix: KillMatrix) -> None:
    """The comparison itself: a database missing one article is told apart from the reference."""
    reference, _ = matrix.reference()
    assert reference.articles and reference.links and reference.failures
    url = min(reference.articles)
    records = [line for line in reference.export.splitlines() if url.encode() not in line]
    got = replace(
        reference,
        articles={key: value for key, value in reference.articles.items() if key != url},
        export=b"\n".join(records) + b"\n",
    )
    verdict = compare(reference, got)
    assert (verdict.lost, verdict.export_equal, verdict.clean) == (1, False, False)
    assert verdict.details == [f"article lost: {url} {reference.articles[url][0]}"]
