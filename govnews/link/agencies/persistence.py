"""Storing the registry: its agencies, names, regions and unknown names in the database.

The registry lives in memory while a crawl or a relink runs (a 来源 name is
resolved by dict lookups, never by a query), and is written to the tables of
:mod:`govnews.store.agencies` (storage owns the schema) so that the next run
starts from what this one learned. All SQL of the registry is here:

- :func:`save` upserts agencies, names and regions (nothing is deleted) and
  adds the counts of unknown names seen since the last save or load; rows of
  names that are now known are removed.
- :func:`merge` adds what the database holds to a registry; the registry's
  own rules decide that what it already has (the curated file) wins.
- :func:`unknown_names` reports the unresolved names of a registry or a database.

The caller commits; a database without the registry's tables loads nothing,
and :func:`save` creates them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Session

from govnews.link.agencies.records import KnownAgency, Origin, Sightings, UnknownName
from govnews.store import agencies as tables
from govnews.store.upsert import insert_for

if TYPE_CHECKING:
    from govnews.link.agencies.registry import AgencyRegistry

# Names of now-known unknown rows deleted per statement (SQLite's variable limit).
_DELETE_CHUNK = 500


def save(registry: AgencyRegistry, session: Session) -> None:
    """Write the registry into the session's database (the caller commits).

    Agencies, names and regions are upserted (nothing is deleted); unknown
    names add the counts seen since the last save or load, and rows of names
    that are now known are removed.
    """
    tables.create_tables(session.connection())
    rows = {row.name: row for row in session.scalars(select(tables.Agency))}
    for agency in registry:
        row = rows.get(agency.name)
        if row is None:
            row = tables.Agency(name=agency.name)
            session.add(row)
            rows[agency.name] = row
        row.host, row.origin = agency.host, agency.origin
        row.region_code, row.region_name = agency.region_code, agency.region_name
    session.flush()
    names = {row.name_key: row for row in session.scalars(select(tables.AgencyName))}
    for key, canonical, kind in registry.name_keys():
        name_row = names.get(key)
        if name_row is None:
            session.add(tables.AgencyName(name_key=key, agency_id=rows[canonical].id, kind=kind))
        else:
            name_row.agency_id, name_row.kind = rows[canonical].id, kind
    regions = {row.name: row for row in session.scalars(select(tables.AgencyRegion))}
    for region in registry.regions():
        spellings = ((region.name, "current"), *((n, "former") for n in region.former))
        for name, region_kind in spellings:
            region_row = regions.get(name)
            if region_row is None:
                region_row = tables.AgencyRegion(name=name)
                session.add(region_row)
                regions[name] = region_row
            region_row.code, region_row.kind = region.code, region_kind
            region_row.origin = region.origin
    _save_unknown(registry, session)
    session.flush()


def _save_unknown(registry: AgencyRegistry, session: Session) -> None:
    """Add the pending counts of unknown names; drop rows of names now known."""
    counts = [
        {
            "name_key": key,
            "example": seen.example,
            "seen": count,
            "first_seen_at": seen.first,
            "last_seen_at": seen.last,
        }
        for key, count, seen in registry.take_unknown_counts()
    ]
    if counts:
        # Added in SQL (seen = seen + n): two writers adding to one name lose neither count.
        table = tables.AgencyUnknownName.__table__
        insert = insert_for(session.connection().dialect, table)
        session.execute(
            insert.values(counts).on_conflict_do_update(
                index_elements=[table.c.name_key],
                set_={
                    "seen": table.c.seen + insert.excluded.seen,
                    "last_seen_at": insert.excluded.last_seen_at,
                },
            ),
            execution_options={"synchronize_session": False},
        )
    session.flush()
    stored = session.scalars(select(tables.AgencyUnknownName.name_key)).all()
    known = [key for key in stored if registry.knows_key(key)]
    for start in range(0, len(known), _DELETE_CHUNK):
        chunk = known[start : start + _DELETE_CHUNK]
        session.execute(
            delete(tables.AgencyUnknownName).where(tables.AgencyUnknownName.name_key.in_(chunk))
        )


def merge(registry: AgencyRegistry, session: Session) -> AgencyRegistry:
    """Add what the database holds to ``registry``; what it already has wins.

    Regions first (current names before former ones), then agencies in the
    order they were stored, their names and the counts of unknown names. A
    database without the registry's tables adds nothing.
    """
    if not inspect(session.connection()).has_table(tables.Agency.__tablename__):
        return registry
    for region_row in session.scalars(
        select(tables.AgencyRegion).order_by(tables.AgencyRegion.kind)
    ):
        registry.merge_region(
            region_row.code,
            region_row.name,
            current=region_row.kind == "current",
            origin=_origin(region_row.origin),
        )
    by_id: dict[int, str] = {}
    for row in session.scalars(select(tables.Agency).order_by(tables.Agency.id)):
        by_id[row.id] = row.name
        registry.merge_agency(
            KnownAgency(row.name, row.host, row.region_code, row.region_name, _origin(row.origin))
        )
    for name_row in session.scalars(select(tables.AgencyName)):
        canonical = by_id.get(name_row.agency_id)
        if canonical is not None:
            registry.merge_name(name_row.name_key, canonical, name_row.kind)
    for unknown in session.scalars(select(tables.AgencyUnknownName)):
        registry.merge_unknown(
            unknown.name_key,
            Sightings(unknown.example, unknown.seen, unknown.first_seen_at, unknown.last_seen_at),
        )
    return registry


def _origin(value: str) -> Origin:
    """A stored origin: 'curated', else 'page'."""
    return "curated" if value == "curated" else "page"


def unknown_names(
    source: Session | AgencyRegistry, *, limit: int | None = None
) -> list[UnknownName]:
    """The names seen but not resolved, with counts, most frequent first.

    From a registry: what it has seen (and loaded); from a session: the stored
    ``agency_unknown_names`` rows.
    """
    if not isinstance(source, Session):
        rows = source.unknown_names()
        return rows if limit is None else rows[:limit]
    if not inspect(source.connection()).has_table(tables.AgencyUnknownName.__tablename__):
        return []
    query = select(tables.AgencyUnknownName).order_by(
        tables.AgencyUnknownName.seen.desc(), tables.AgencyUnknownName.name_key
    )
    if limit is not None:
        query = query.limit(limit)
    return [UnknownName(row.name_key, row.seen, row.example) for row in source.scalars(query)]
