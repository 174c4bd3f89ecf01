"""Reposts waiting for an original found by date alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

An index on ``repost_sources.published_at``: a stored article first asks
whether any repost published around it is still waiting for its original, and
skips the search for them when none is.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_repost_sources_published_at", "repost_sources", ["published_at"])


def downgrade() -> None:
    op.drop_index("ix_repost_sources_published_at", table_name="repost_sources")
