"""The first released schema (commit 9d0b3a9): runs, parameter_coverage, batches, examples and
rejections.

A baseline: ledgers made before the schema was versioned are stamped here, then upgraded. A new
ledger is created whole at the newest schema and stamped at the head.

Revision ID: r0001
"""

from __future__ import annotations

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
