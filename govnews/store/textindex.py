"""Persisted content fingerprints and the candidate index built on them.

``article_fingerprints`` holds one :class:`~govnews.core.fingerprint.Fingerprint`
per article; ``fingerprint_bands`` its LSH band keys, one row per band, keyed
``(band, article_id)``: the articles sharing a band with a new one are found
through that primary key, one index probe per band (42) plus the rows that
match, never a scan of all fingerprints.

``fingerprint_bands`` has no foreign key and no index on ``article_id``, on
purpose (measured on 100,000 articles, 4.2 million band rows): either makes
bulk inserts 2 to 10 times slower. Band rows of a deleted article are left
behind but never returned (look-ups check the ids they find against
``article_fingerprints``, which the article's deletion cascades to; joining
the two in the look-up costs five times more); :func:`prune_bands` removes them. Replacing
a fingerprint deletes its old band rows by primary key, recomputed from the
stored signature.

Importing this module registers both tables on ``govnews.store.models.Base``;
``Base.metadata.create_all`` creates them from then on. Every function works
in the caller's transaction and never commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    JSON,
    BigInteger,
    Delete,
    Dialect,
    ForeignKey,
    Insert,
    Integer,
    LargeBinary,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from govnews.core.fingerprint import (
    COMMON_BAND,
    MIN_BAND_SHINGLES,
    NUM_PERM,
    TITLE_KEY_LENGTH,
    Fingerprint,
    band_key_matrix,
    band_keys,
)
from govnews.store.models import Base
from govnews.store.upsert import insert_ignoring

#: Ids per ``IN (…)`` list, well under every backend's bound-parameter limit.
CHUNK = 500
#: Rows handed to the driver's executemany at a time (band rows are streamed).
BAND_BATCH = 50_000


class ArticleFingerprint(Base):
    """The fingerprint of one article (deleted with the article)."""

    __tablename__ = "article_fingerprints"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    title_key: Mapped[str] = mapped_column(String(TITLE_KEY_LENGTH), index=True)
    # The key of the 原标题 a retitled repost gives, so that either title finds it.
    original_title_key: Mapped[str | None] = mapped_column(String(TITLE_KEY_LENGTH), index=True)
    # MinHash signature: NUM_PERM little-endian uint32 values.
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    # The numbers the body states, sorted (``Fingerprint.numbers``).
    numbers: Mapped[list[str]] = mapped_column(JSON)
    length: Mapped[int]
    shingle_count: Mapped[int]


class FingerprintBand(Base):
    """One LSH band key of one article's fingerprint: the candidate index.

    The primary key ``(band, article_id)`` is the index band look-ups use (on
    SQLite a WITHOUT ROWID table: the rows are that index). No foreign key:
    see the module docstring.
    """

    __tablename__ = "fingerprint_bands"
    __table_args__ = {"sqlite_with_rowid": False}

    band: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


_FINGERPRINTS = cast(Table, ArticleFingerprint.__table__)
_BANDS = cast(Table, FingerprintBand.__table__)


def store_fingerprint(session: Session, article_id: int, fp: Fingerprint) -> bool:
    """Store ``fp`` as the fingerprint of article ``article_id``, replacing an older one.

    Returns False when the stored fingerprint was already equal (nothing written).
    """
    return store_fingerprints(session, [(article_id, fp)]) == 1


def store_fingerprints(session: Session, items: Iterable[tuple[int, Fingerprint]]) -> int:
    """Store many fingerprints at once, band keys included; returns how many were written.

    An article listed twice keeps its last fingerprint; an article whose
    stored fingerprint is equal is left alone; others are replaced. Band rows
    are written sorted by key, which SQLite inserts several times faster than
    in arrival order: give a whole batch at once.
    """
    changed = write_fingerprints(session, items)
    banded = [(i, fp) for i, fp in changed.items() if fp.shingle_count >= MIN_BAND_SHINGLES]
    if banded:
        ids = np.array([i for i, _ in banded], dtype=np.int64)
        signatures = np.stack([fp.minhash for _, fp in banded])
        insert_bands(session, ids, band_key_matrix(signatures))
    return len(changed)


def write_fingerprints(
    session: Session, items: Iterable[tuple[int, Fingerprint]]
) -> dict[int, Fingerprint]:
    """:func:`store_fingerprints` without the new band rows; returns the fingerprints written.

    The band rows of replaced fingerprints are deleted; insert the new ones
    with :func:`insert_bands` (for instance once, sorted, after many calls).
    """
    session.flush()
    wanted = dict(items)
    stored = load_fingerprints(session, _stored_ids(session, wanted))
    changed = {i: fp for i, fp in wanted.items() if stored.get(i) != fp}
    if not changed:
        return {}
    replaced = {i: stored[i] for i in changed if i in stored}
    if replaced:
        old_bands = [(key, i) for i, fp in replaced.items() for key in band_keys(fp)]
        _executemany(session, _DELETE_BAND, old_bands)
        for chunk in _chunks(list(replaced)):
            session.execute(delete(_FINGERPRINTS).where(_FINGERPRINTS.c.article_id.in_(chunk)))
    _executemany(session, _INSERT_FINGERPRINT, [_row(i, fp) for i, fp in changed.items()])
    return changed


def delete_fingerprint(session: Session, article_id: int) -> bool:
    """Remove the fingerprint and band keys of article ``article_id``; False if none."""
    stored = load_fingerprints(session, [article_id]).get(article_id)
    if stored is None:
        return False
    _executemany(session, _DELETE_BAND, [(key, article_id) for key in band_keys(stored)])
    session.execute(delete(_FINGERPRINTS).where(_FINGERPRINTS.c.article_id == article_id))
    return True


def band_matches(
    session: Session,
    fp: Fingerprint,
    limit: int = 50,
    exclude: int | None = None,
    common: set[int] | None = None,
) -> list[tuple[int, int]]:
    """``(article_id, shared_bands)`` of the stored articles sharing a band with ``fp``.

    Most shared bands first (then newest id first), at most ``limit``;
    ``exclude`` leaves out the article itself. Band keys held by more than
    :data:`~govnews.core.fingerprint.COMMON_BAND` articles are skipped: they
    are counted first, then the others matched, both on the primary key alone;
    band rows left by deleted articles are dropped from the result. ``common``,
    kept by the caller between calls, remembers the keys found common (a
    key's articles only grow), so that their large counts are not made again.
    """
    keys = band_keys(fp)
    if not keys or limit <= 0:
        return []
    common = set() if common is None else common
    unknown = [key for key in keys if key not in common]
    if unknown:
        sizes = session.execute(_BUCKET_SIZES, {"keys": unknown})
        common.update(key for key, size in sizes if size > COMMON_BAND)
    keys = [key for key in keys if key not in common]
    if not keys:
        return []
    parameters = {"keys": keys, "exclude": -1 if exclude is None else exclude, "limit": limit}
    matches = [(int(i), int(n)) for i, n in session.execute(_MATCHES, parameters)]
    alive = set(_stored_ids(session, [article_id for article_id, _ in matches]))
    return [(article_id, shared) for article_id, shared in matches if article_id in alive]


def candidates_by_bands(
    session: Session,
    fp: Fingerprint,
    limit: int = 50,
    exclude: int | None = None,
    common: set[int] | None = None,
) -> list[int]:
    """The ids of stored articles sharing at least one band with ``fp``, best first.

    With 42 bands of 3 rows, a body whose Jaccard similarity with ``fp`` is
    0.5 or more is among them with probability ≥ 0.996 (see
    ``govnews.core.fingerprint.BANDS``); rank them with the scores.
    ``common``: see :func:`band_matches`.
    """
    return [article_id for article_id, _ in band_matches(session, fp, limit, exclude, common)]


def candidates_by_title(
    session: Session, title_key: str | Iterable[str], limit: int = 100
) -> list[int]:
    """The ids of stored articles whose title or 原标题 has one of these keys (newest first).

    Give keys (``normalise_title``), not raw titles.
    """
    keys = [title_key] if isinstance(title_key, str) else list(title_key)
    keys = [key for key in dict.fromkeys(keys) if key]
    if not keys or limit <= 0:
        return []
    query = (
        select(ArticleFingerprint.article_id)
        .where(
            or_(
                ArticleFingerprint.title_key.in_(keys),
                ArticleFingerprint.original_title_key.in_(keys),
            )
        )
        .order_by(ArticleFingerprint.article_id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def load_fingerprints(session: Session, ids: Iterable[int]) -> dict[int, Fingerprint]:
    """The stored fingerprints of the articles ``ids`` that have one."""
    found: dict[int, Fingerprint] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        rows = session.execute(
            select(_FINGERPRINTS).where(_FINGERPRINTS.c.article_id.in_(chunk))
        ).mappings()
        for row in rows:
            found[row["article_id"]] = _fingerprint(row)
    return found


def _stored_ids(session: Session, ids: Iterable[int]) -> list[int]:
    """Those of ``ids`` that have a stored fingerprint."""
    found: list[int] = []
    column = _FINGERPRINTS.c.article_id
    for chunk in _chunks(list(ids)):
        found.extend(session.scalars(select(column).where(column.in_(chunk))))
    return found


def rebuild_band_index(session: Session) -> int:
    """Recompute every band row from the stored signatures; returns the rows written.

    For after a change of the band parameters, or to drop the rows of
    deleted articles in one go. Holds 16 bytes per band row in memory
    (67 MB for 100,000 articles) to write them sorted.
    """
    session.flush()
    session.execute(delete(_BANDS))
    ids: list[npt.NDArray[np.int64]] = []
    keys: list[npt.NDArray[np.int64]] = []
    query = (
        select(_FINGERPRINTS.c.article_id, _FINGERPRINTS.c.minhash)
        .where(_FINGERPRINTS.c.shingle_count >= MIN_BAND_SHINGLES)
        .execution_options(yield_per=10_000)
    )
    for partition in session.execute(query).partitions():
        ids.append(np.array([row[0] for row in partition], dtype=np.int64))
        blobs = b"".join(row[1] for row in partition)
        signatures = np.frombuffer(blobs, dtype="<u4").reshape(len(partition), NUM_PERM)
        keys.append(band_key_matrix(signatures.astype(np.uint32)))
    if not ids:
        return 0
    return insert_bands(session, np.concatenate(ids), np.concatenate(keys))


def prune_bands(session: Session) -> int:
    """Delete the band rows of articles that have no fingerprint any more; returns how many."""
    orphans = delete(_BANDS).where(_BANDS.c.article_id.not_in(select(_FINGERPRINTS.c.article_id)))
    result = session.execute(orphans)
    return int(getattr(result, "rowcount", 0) or 0)


_INSERT_FINGERPRINT = insert(_FINGERPRINTS)
_SHARED = func.count().label("shared")
# Built once: a statement built per call costs more than SQLite's look-up itself.
_MATCHES = (
    select(_BANDS.c.article_id, _SHARED)
    .where(_BANDS.c.band.in_(bindparam("keys", expanding=True)))
    .where(_BANDS.c.article_id != bindparam("exclude"))
    .group_by(_BANDS.c.article_id)
    .order_by(_SHARED.desc(), _BANDS.c.article_id.desc())
    .limit(bindparam("limit"))
)
# How many articles hold each key: counted on the primary key alone, no join.
_BUCKET_SIZES = (
    select(_BANDS.c.band, func.count().label("size"))
    .where(_BANDS.c.band.in_(bindparam("keys", expanding=True)))
    .group_by(_BANDS.c.band)
)
_DELETE_BAND = delete(_BANDS).where(
    _BANDS.c.band == bindparam("band"), _BANDS.c.article_id == bindparam("article_id")
)


def insert_bands(session: Session, ids: npt.NDArray[np.int64], keys: npt.NDArray[np.int64]) -> int:
    """Insert the band rows of ``ids`` (``keys`` is ``(len(ids), bands)``), sorted by key.

    Only for articles whose old band rows are gone (:func:`write_fingerprints`).
    """
    flat_keys = keys.reshape(-1)
    flat_ids = np.repeat(ids, keys.shape[1])
    order = np.lexsort((flat_ids, flat_keys))
    return insert_sorted_bands(session, flat_keys[order], flat_ids[order])


def insert_sorted_bands(
    session: Session, keys: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]
) -> int:
    """Insert band rows ``(keys[i], ids[i])`` already sorted by key, then id; returns how many."""
    # A band key twice for one article (a 64-bit collision) would break the primary key.
    keep = np.ones(keys.size, dtype=np.bool_)
    keep[1:] = (keys[1:] != keys[:-1]) | (ids[1:] != ids[:-1])
    if not keep.all():
        keys, ids = keys[keep], ids[keep]
    rows = (
        row
        for start in range(0, keys.size, BAND_BATCH)
        for row in zip(
            keys[start : start + BAND_BATCH].tolist(),
            ids[start : start + BAND_BATCH].tolist(),
            strict=True,
        )
    )
    # Band rows left by a deleted article whose id is reused are taken over, not a conflict.
    _executemany(session, insert_ignoring(session.connection().dialect.name, _BANDS), rows)
    return int(keys.size)


def _executemany(
    session: Session, statement: Insert | Delete, rows: Iterable[tuple[Any, ...]]
) -> None:
    """Run ``statement`` once per row through the driver's executemany.

    Rows are tuples in the order of the statement's columns (or bound
    parameters, for a delete). SQLAlchemy's per-row parameter processing
    costs more than SQLite's insert itself: 4.2 million band rows for
    100,000 articles. Values must be what the driver takes (ints, str, bytes).
    """
    connection = session.connection()
    dialect = connection.dialect
    sql, names, order = _compiled(statement, dialect)
    cursor = connection.connection.cursor()
    try:
        iterator = iter(rows)
        while batch := list(islice(iterator, BAND_BATCH)):
            if not dialect.positional:
                cursor.executemany(sql, [dict(zip(names, row, strict=True)) for row in batch])
            elif order == list(range(len(names))):
                cursor.executemany(sql, batch)
            else:
                cursor.executemany(sql, [tuple(row[i] for i in order) for row in batch])
    finally:
        cursor.close()


_COMPILED: dict[tuple[int, str], tuple[str, list[str], list[int]]] = {}


def _compiled(statement: Insert | Delete, dialect: Dialect) -> tuple[str, list[str], list[int]]:
    """The SQL of ``statement`` for ``dialect``, its parameter names and their order (cached)."""
    key = (id(statement), dialect.name)
    if key not in _COMPILED:
        compiled = statement.compile(dialect=dialect)
        names = list(compiled.params)
        positions = list(compiled.positiontup or names) if dialect.positional else names
        _COMPILED[key] = (str(compiled), names, [names.index(name) for name in positions])
    return _COMPILED[key]


def _row(article_id: int, fp: Fingerprint) -> tuple[Any, ...]:
    """The ``article_fingerprints`` row of ``fp``, in the columns' order."""
    return (
        article_id,
        fp.title_key,
        fp.original_title_key,
        np.asarray(fp.minhash, dtype="<u4").tobytes(),
        json.dumps(sorted(fp.numbers)),
        fp.length,
        fp.shingle_count,
    )


def _fingerprint(row: Any) -> Fingerprint:
    """The Fingerprint of an ``article_fingerprints`` row."""
    return Fingerprint(
        title_key=row["title_key"],
        minhash=np.frombuffer(row["minhash"], dtype="<u4").astype(np.uint32),
        length=row["length"],
        shingle_count=row["shingle_count"],
        numbers=frozenset(row["numbers"] or ()),
        original_title_key=row["original_title_key"],
    )


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    """``ids`` in slices of :data:`CHUNK`."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
