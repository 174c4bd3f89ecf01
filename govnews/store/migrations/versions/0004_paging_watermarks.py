"""Paging watermarks: how far each spider last paged each site in a run that finished.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

A new table, ``paging_watermarks``: per spider and site, the run that last paged
the site's listings to their stopping point and finished, and the highest
``articles.id`` stored when it did. A run stops paging a listing at a page whose
articles were all stored by then; articles stored later (by a run killed while it
paged) do not stop it. A database upgraded here has no watermark yet: its next run
of each spider pages every listing to its end once, as a first run does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paging_watermarks",
        sa.Column("spider", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("last_article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("spider", "site"),
    )


def downgrade() -> None:
    op.drop_table("paging_watermarks")
