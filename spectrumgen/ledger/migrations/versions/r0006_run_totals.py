"""run_totals: each run's calls, tokens, accepted and rejected, kept as batches are recorded.

Reading a run's standing summed its batches and counted its examples and rejections, twice per
batch: a long run's batches grew slower as it went. Filled from what a ledger already holds.

Revision ID: r0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0006"
down_revision = "r0005"
branch_labels = None
depends_on = None

COLUMNS = (
    "requests",
    "items_requested",
    "repair_items",
    "prompt_tokens",
    "completion_tokens",
    "tokens_estimated",
    "llm_seconds",
    "accepted",
    "rejected",
)


def upgrade() -> None:
    if "run_totals" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "run_totals",
            sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
            *(
                sa.Column(name, sa.Float() if name == "llm_seconds" else sa.Integer(),
                          nullable=False)
                for name in COLUMNS
            ),
        )  # fmt: skip
    op.execute("DELETE FROM run_totals")
    op.execute(
        f"INSERT INTO run_totals (run_id, {', '.join(COLUMNS)}) "
        "SELECT r.run_id, "
        "coalesce((SELECT sum(b.requests) FROM batches b WHERE b.run_id = r.run_id), 0), "
        "coalesce((SELECT sum(b.items_requested) FROM batches b WHERE b.run_id = r.run_id), 0), "
        "coalesce((SELECT sum(b.repair_items) FROM batches b WHERE b.run_id = r.run_id), 0), "
        "coalesce((SELECT sum(b.prompt_tokens) FROM batches b WHERE b.run_id = r.run_id), 0), "
        "coalesce((SELECT sum(b.completion_tokens) FROM batches b WHERE b.run_id = r.run_id), 0), "
        "coalesce((SELECT max(CAST(b.tokens_estimated AS INTEGER)) FROM batches b "
        "WHERE b.run_id = r.run_id), 0), "
        "coalesce((SELECT sum(b.seconds) FROM batches b WHERE b.run_id = r.run_id), 0), "
        "(SELECT count(*) FROM examples e WHERE e.run_id = r.run_id), "
        "(SELECT count(*) FROM rejections j WHERE j.run_id = r.run_id) "
        "FROM runs r"
    )


def downgrade() -> None:
    op.drop_table("run_totals")
