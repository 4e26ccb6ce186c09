"""What the dashboard shows that the ledger did not keep: the worker that made each call
(`batches.worker`, for its last activity) and each run's call and token budgets as of its last
recorded batch (`run_totals.call_budget`, `run_totals.token_budget`). All nullable: ledgers and
workers from before this revision leave them empty.

Revision ID: r0007
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "r0007"
down_revision = "r0006"
branch_labels = None
depends_on = None

ADDED: dict[str, list[sa.Column[Any]]] = {
    "batches": [sa.Column("worker", sa.String(128), nullable=True)],
    "run_totals": [
        sa.Column("call_budget", sa.Integer(), nullable=True),
        sa.Column("token_budget", sa.Integer(), nullable=True),
    ],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in ADDED.items():
        have = {column["name"] for column in inspector.get_columns(table)}
        for column in columns:
            if column.name not in have:
                op.add_column(table, column)


def downgrade() -> None:
    for table, columns in ADDED.items():
        for column in columns:
            op.drop_column(table, column.name)
