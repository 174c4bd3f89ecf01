"""Candidate originals held in memory, for linking many articles at once (``relink``).

:class:`Prints` is a batch of fingerprints laid out as arrays (one signature
matrix, interned strings): about 0.8 KB per article where a dict of
:class:`~govnews.core.fingerprint.Fingerprint` objects takes 3 KB. It is what
worker processes send back. :class:`Pool` indexes the candidate articles the
way ``govnews.store.textindex`` does in the database: by site and date, by
title key, and by LSH band (sorted arrays and binary search), and scores the
containment of many candidates in one vectorised step.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from govnews.core import fingerprint as fp

#: Candidates by title and by content, at most (as the database look-ups).
TITLE_LIMIT = 100
BAND_LIMIT = 50
#: Joins the numbers of an article in :class:`Prints` (numbers never contain it).
NUMBER_SEPARATOR = "\x1f"
_KEY_SLICE = 10_000


@dataclass
class Prints:
    """The fingerprints of many articles, as arrays."""

    ids: npt.NDArray[np.int64]
    minhash: npt.NDArray[np.uint32]  # (len(ids), NUM_PERM)
    length: npt.NDArray[np.int64]
    shingles: npt.NDArray[np.int64]
    title_keys: list[str]
    original_keys: list[str | None]
    numbers: list[str]  # each article's numbers, sorted, joined by NUMBER_SEPARATOR

    @classmethod
    def of(cls, items: Iterable[tuple[int, fp.Fingerprint]]) -> Prints:
        """The batch of ``(article id, fingerprint)`` pairs."""
        pairs = list(items)
        prints = [p for _, p in pairs]
        return cls(
            ids=np.array([i for i, _ in pairs], dtype=np.int64),
            minhash=(
                np.stack([p.minhash for p in prints])
                if prints
                else np.zeros((0, fp.NUM_PERM), dtype=np.uint32)
            ),
            length=np.array([p.length for p in prints], dtype=np.int64),
            shingles=np.array([p.shingle_count for p in prints], dtype=np.int64),
            title_keys=[p.title_key for p in prints],
            original_keys=[p.original_title_key for p in prints],
            numbers=[NUMBER_SEPARATOR.join(sorted(p.numbers)) for p in prints],
        )

    @classmethod
    def join(cls, parts: Sequence[Prints]) -> Prints:
        """One batch of several (their articles must differ)."""
        if not parts:
            return cls.of([])
        return cls(
            ids=np.concatenate([p.ids for p in parts]),
            minhash=np.concatenate([p.minhash for p in parts]),
            length=np.concatenate([p.length for p in parts]),
            shingles=np.concatenate([p.shingles for p in parts]),
            title_keys=[k for p in parts for k in p.title_keys],
            original_keys=[k for p in parts for k in p.original_keys],
            numbers=[n for p in parts for n in p.numbers],
        )

    def __len__(self) -> int:
        return int(self.ids.size)

    def fingerprint(self, row: int) -> fp.Fingerprint:
        """The :class:`~govnews.core.fingerprint.Fingerprint` at position ``row``."""
        return fp.Fingerprint(
            title_key=self.title_keys[row],
            minhash=self.minhash[row],
            length=int(self.length[row]),
            shingle_count=int(self.shingles[row]),
            numbers=frozenset(self.numbers[row].split(NUMBER_SEPARATOR))
            if self.numbers[row]
            else frozenset(),
            original_title_key=self.original_keys[row],
        )

    def items(self) -> Iterator[tuple[int, fp.Fingerprint]]:
        """``(article id, fingerprint)`` pairs, in order."""
        for row, article_id in enumerate(self.ids.tolist()):
            yield article_id, self.fingerprint(row)

    def intern(self) -> None:
        """Share equal strings between articles (template notices), to save memory."""
        self.numbers = [sys.intern(n) for n in self.numbers]
        self.title_keys = [sys.intern(k) for k in self.title_keys]


def fingerprint_rows(rows: Iterable[tuple[int, str, str, str | None]]) -> Prints:
    """The fingerprints of ``(id, title, body, 原标题)`` rows (run in worker processes)."""
    return Prints.of(
        (i, fp.fingerprint(title, body, original)) for i, title, body, original in rows
    )


class Pool:
    """The candidate articles: where and when each was published, fingerprints, indexes."""

    def __init__(self, where: dict[int, tuple[str, datetime | None]], prints: Prints) -> None:
        prints.intern()
        self.where = where
        self.prints = prints
        self._row = {article_id: row for row, article_id in enumerate(prints.ids.tolist())}
        self._title_keys = [
            tuple(dict.fromkeys(k for k in keys if k))
            for keys in zip(prints.title_keys, prints.original_keys, strict=True)
        ]
        self._titles: dict[str, list[int]] = {}
        for article_id, titles in zip(prints.ids.tolist(), self._title_keys, strict=True):
            for key in titles:
                self._titles.setdefault(key, []).append(article_id)
        self._sites = _site_index(where)
        banded = np.flatnonzero(prints.shingles >= fp.MIN_BAND_SHINGLES)
        keys = np.concatenate(  # in slices: the key computation's temporaries are 5x the keys
            [
                fp.band_key_matrix(prints.minhash[banded[start : start + _KEY_SLICE]]).reshape(-1)
                for start in range(0, banded.size, _KEY_SLICE)
            ]
            or [np.zeros(0, dtype=np.int64)]
        )
        ids = np.repeat(prints.ids[banded], fp.BANDS)
        order = np.lexsort((ids, keys))
        #: Every band row of the pool, sorted by key, then article: as the database stores them.
        self.band_keys: npt.NDArray[np.int64] = keys[order]
        self.band_ids: npt.NDArray[np.int64] = ids[order]

    def __contains__(self, article_id: int) -> bool:
        return article_id in self._row

    def fingerprint(self, article_id: int) -> fp.Fingerprint:
        """The fingerprint of a candidate article."""
        return self.prints.fingerprint(self._row[article_id])

    def title_keys(self, article_id: int) -> tuple[str, ...]:
        """The non-empty title keys of a candidate (``Fingerprint.title_keys``)."""
        return self._title_keys[self._row[article_id]]

    def by_site(self, host: str, lo: datetime, hi: datetime) -> list[int]:
        """Articles of ``host`` published from ``lo`` to ``hi`` (both included)."""
        if host not in self._sites:
            return []
        times, ids = self._sites[host]
        start = np.searchsorted(times, lo.timestamp(), "left")
        end = np.searchsorted(times, hi.timestamp(), "right")
        found: list[int] = ids[start:end].tolist()
        return found

    def by_title(self, keys: Iterable[str]) -> list[int]:
        """Articles whose title or 原标题 has one of ``keys``: newest id first, at most 100."""
        found = {i for key in keys if key for i in self._titles.get(key, ())}
        return sorted(found, reverse=True)[:TITLE_LIMIT]

    def by_bands(self, print_: fp.Fingerprint, exclude: int) -> list[int]:
        """Articles sharing an LSH band with ``print_``: most bands first, at most 50.

        As in the database, keys held by more than ``COMMON_BAND`` articles are skipped.
        """
        keys = np.array(fp.band_keys(print_), dtype=np.int64)
        if keys.size == 0 or self.band_keys.size == 0:
            return []
        starts = np.searchsorted(self.band_keys, keys, "left")
        ends = np.searchsorted(self.band_keys, keys, "right")
        hits = [
            self.band_ids[a:b]
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
            if 0 < b - a <= fp.COMMON_BAND
        ]
        if not hits:
            return []
        ids, shared = np.unique(np.concatenate(hits), return_counts=True)
        keep = ids != exclude
        ids, shared = ids[keep], shared[keep]
        if ids.size > BAND_LIMIT:  # the BAND_LIMIT best, without sorting them all
            cut = np.partition(shared, ids.size - BAND_LIMIT)[ids.size - BAND_LIMIT]
            ids, shared = ids[shared >= cut], shared[shared >= cut]
        order = np.lexsort((-ids, -shared))[:BAND_LIMIT]
        found: list[int] = ids[order].tolist()
        return found

    def containment(self, print_: fp.Fingerprint, ids: Sequence[int]) -> npt.NDArray[np.float64]:
        """:func:`~govnews.core.fingerprint.containment` of ``print_`` and each of ``ids``."""
        rows = np.array([self._row[i] for i in ids], dtype=np.int64)
        if rows.size == 0 or print_.is_empty:
            return np.zeros(rows.size)
        shingles = self.prints.shingles[rows]
        jaccard = np.count_nonzero(self.prints.minhash[rows] == print_.minhash, axis=1)
        jaccard = jaccard / print_.minhash.size
        with np.errstate(divide="ignore", invalid="ignore"):
            intersection = jaccard * (shingles + print_.shingle_count) / (1 + jaccard)
            contained = np.minimum(1.0, intersection / np.minimum(shingles, print_.shingle_count))
        result: npt.NDArray[np.float64] = np.where((jaccard == 0) | (shingles == 0), 0.0, contained)
        return result


def _site_index(
    where: dict[int, tuple[str, datetime | None]],
) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]]:
    """Per site: the publication times (sorted) and the articles at those times."""
    dated: dict[str, list[tuple[float, int]]] = {}
    for article_id, (host, published) in where.items():
        if published is not None:
            dated.setdefault(host, []).append((published.timestamp(), article_id))
    index = {}
    for host, pairs in dated.items():
        pairs.sort()
        index[host] = (
            np.array([t for t, _ in pairs], dtype=np.float64),
            np.array([i for _, i in pairs], dtype=np.int64),
        )
    return index
