"""run_cells: each run's accepted examples counted per cell, kept as batches are recorded.

Planning and the quota checks read these few rows instead of grouping the run's examples at
every batch (which made a long run's batches slower as it grew). Filled from the examples a
ledger already holds.

Revision ID: r0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "run_cells" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "run_cells",
            sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
            sa.Column("capacity_level", sa.String(64), primary_key=True),
            sa.Column("authenticity_target", sa.String(64), primary_key=True),
            sa.Column("complexity_type", sa.String(64), primary_key=True),
            sa.Column("accepted", sa.Integer(), nullable=False),
            sa.Column("min_score", sa.Float(), nullable=False),
            sa.Column("max_score", sa.Float(), nullable=False),
        )
    op.execute("DELETE FROM run_cells")
    op.execute(
        "INSERT INTO run_cells (run_id, capacity_level, authenticity_target, complexity_type, "
        "accepted, min_score, max_score) "
        "SELECT run_id, capacity_level, authenticity_target, complexity_type, count(*), "
        "min(authenticity_score), max(authenticity_score) FROM examples "
        "GROUP BY run_id, capacity_level, authenticity_target, complexity_type"
    )


def downgrade() -> None:
    op.drop_table("run_cells")
