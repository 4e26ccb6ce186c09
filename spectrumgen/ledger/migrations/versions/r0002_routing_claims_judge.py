"""What later releases added before the schema was versioned: runs.routing (model routing),
the claims table (workers sharing a run), and the judge's scores on examples and rejections.

Each step is skipped when it is there already, so a ledger made by any release in between
upgrades as well as one made by the first.

Revision ID: r0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    if "routing" not in _columns("runs"):
        op.add_column("runs", sa.Column("routing", sa.Text(), nullable=False, server_default=""))
    if "claims" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "claims",
            sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
            sa.Column("scenario_id", sa.String(64), primary_key=True),
            sa.Column("worker", sa.String(128), nullable=False, index=True),
            sa.Column("capacity_level", sa.String(64), nullable=False),
            sa.Column("authenticity_target", sa.String(64), nullable=False),
            sa.Column("complexity_type", sa.String(64), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        )
    for table in ("examples", "rejections"):
        have = _columns(table)
        for name in ("judge_fit", "judge_authenticity"):
            if name not in have:
                op.add_column(table, sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ("examples", "rejections"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("judge_authenticity")
            batch.drop_column("judge_fit")
    op.drop_table("claims")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("routing")
