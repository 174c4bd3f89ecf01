"""The linking outbox: articles stored by crawl workers of a shared database, not linked yet.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

A new table, ``link_outbox``: one row per article stored and not yet linked.
On a shared database (PostgreSQL, N crawl workers) an article and its row are
written in one transaction and one linker at a time links the queue, so that
links do not depend on which worker's transaction saw which article. SQLite
databases leave it empty (their writers take turns, and link as they store).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_outbox",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("site_meta", sa.JSON(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id"),
    )


def downgrade() -> None:
    op.drop_table("link_outbox")
