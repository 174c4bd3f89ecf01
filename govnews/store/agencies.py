"""Tables of the agency registry, ``govnews.link.agencies`` (its ``persistence`` module).

``agencies`` and ``agency_names`` are what the registry knows, ``agency_regions``
the administrative divisions it parses names with, ``agency_unknown_names`` the
来源 names it was asked about and could not resolve. They live on the common
:class:`~govnews.store.models.Base`, so ``Base.metadata.create_all`` creates them
once this module is imported.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from govnews.core.timezone import utcnow
from govnews.store.models import Base

NAME_LENGTH = 255


class Agency(Base):
    """A government agency: its canonical name, site host and region."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    host: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6), index=True)
    region_name: Mapped[str | None] = mapped_column(String(64))
    # 'curated' (the file of GOVNEWS_AGENCIES_FILE, by default the bundled
    # govnews/link/agencies/agencies.toml) or 'page' (learned from a government page).
    origin: Mapped[str] = mapped_column(String(16))


class AgencyName(Base):
    """One normalised name of an agency: 'full', 'short', 'former' or 'site'."""

    __tablename__ = "agency_names"

    name_key: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))


class AgencyRegion(Base):
    """A name of an administrative division: its current or a former name."""

    __tablename__ = "agency_regions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(6), index=True)
    # 'current' or 'former' (龙海市, the name of 龙海区 until 2021).
    kind: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))


class AgencyUnknownName(Base):
    """A 来源 name that resolved to no agency, with how often it was seen."""

    __tablename__ = "agency_unknown_names"

    name_key: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    example: Mapped[str] = mapped_column(Text)
    seen: Mapped[int] = mapped_column(default=0)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


TABLES: tuple[Table, ...] = tuple(
    model.__table__  # type: ignore[misc]
    for model in (Agency, AgencyName, AgencyRegion, AgencyUnknownName)
)


def create_tables(bind: Engine | Connection) -> None:
    """Create the registry's tables (and only them) where they are missing."""
    Base.metadata.create_all(bind, tables=list(TABLES))
