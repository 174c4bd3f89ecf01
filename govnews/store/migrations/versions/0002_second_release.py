"""The second release: the linking tables, and reposts found without a declared URL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

New tables: the 来源 of reposts, link suggestions, the agency registry and the
fingerprint index. ``reposts.declared_url`` and ``declared_key`` become
nullable; SQLite cannot change a column's NOT NULL, so ``reposts`` is rebuilt
(batch mode: create, copy every row, drop, rename), from ``copy_from`` rather
than by reflection, so that ``--sql`` works too.

The new tables are created only where missing: a first-release database opened
by the second release got them from ``create_all``, which left ``reposts`` as it
was. Such a database is at ``0001`` and this revision completes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repost_sources",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("agency_host", sa.String(length=255), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("article_id"),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_repost_sources_host_date",
        "repost_sources",
        ["agency_host", "published_at"],
        if_not_exists=True,
    )
    op.create_table(
        "link_suggestions",
        sa.Column("repost_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("repost_id", "candidate_id"),
        sa.ForeignKeyConstraint(["repost_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["candidate_id"], ["articles.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("region_name", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        if_not_exists=True,
    )
    op.create_index("ix_agencies_host", "agencies", ["host"], if_not_exists=True)
    op.create_index("ix_agencies_region_code", "agencies", ["region_code"], if_not_exists=True)
    op.create_table(
        "agency_names",
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("name_key"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    op.create_index("ix_agency_names_agency_id", "agency_names", ["agency_id"], if_not_exists=True)
    op.create_table(
        "agency_regions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    op.create_index("ix_agency_regions_code", "agency_regions", ["code"], if_not_exists=True)
    op.create_table(
        "agency_unknown_names",
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name_key"),
        if_not_exists=True,
    )
    op.create_table(
        "article_fingerprints",
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title_key", sa.String(length=200), nullable=False),
        sa.Column("original_title_key", sa.String(length=200), nullable=True),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("shingle_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("article_id"),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_article_fingerprints_original_title_key",
        "article_fingerprints",
        ["original_title_key"],
        if_not_exists=True,
    )
    op.create_index(
        "ix_article_fingerprints_title_key",
        "article_fingerprints",
        ["title_key"],
        if_not_exists=True,
    )
    # No foreign key and no index on article_id, on purpose: see govnews/store/textindex.py.
    op.create_table(
        "fingerprint_bands",
        sa.Column("band", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("band", "article_id"),
        sqlite_with_rowid=False,
        if_not_exists=True,
    )
    set_nullable(True)


def downgrade() -> None:
    """Fails, changing nothing, while a repost without a declared URL is stored."""
    for table in (
        "fingerprint_bands",
        "article_fingerprints",
        "agency_unknown_names",
        "agency_regions",
        "agency_names",
        "agencies",
        "link_suggestions",
        "repost_sources",
    ):
        op.drop_table(table)
    set_nullable(False)


def reposts(nullable: bool) -> sa.Table:
    """``reposts`` with ``declared_url`` and ``declared_key`` NOT NULL or not."""
    return sa.Table(
        "reposts",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repost_id", sa.Integer(), nullable=False),
        sa.Column("original_id", sa.Integer(), nullable=True),
        sa.Column("declared_url", sa.String(length=2048), nullable=nullable),
        sa.Column("declared_key", sa.String(length=2048), nullable=nullable),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repost_id"),
        sa.ForeignKeyConstraint(["repost_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["original_id"], ["articles.id"], ondelete="SET NULL"),
        sa.Index("ix_reposts_declared_key", "declared_key"),
        sa.Index("ix_reposts_original_id", "original_id"),
    )


def set_nullable(nullable: bool) -> None:
    """Rebuild ``reposts`` with the declared columns' new NOT NULL."""
    with op.batch_alter_table("reposts", copy_from=reposts(not nullable)) as batch:
        for column in ("declared_url", "declared_key"):
            batch.alter_column(column, existing_type=sa.String(length=2048), nullable=nullable)
