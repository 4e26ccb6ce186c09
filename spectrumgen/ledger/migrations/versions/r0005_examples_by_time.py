"""An index on examples (run_id, created_at): the near-duplicate check reads a run's examples
accepted since its last look, and without this every such read scanned all the run's examples.

Revision ID: r0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None

NAME = "ix_examples_run_id_created_at"


def upgrade() -> None:
    indexes = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("examples")}
    if NAME not in indexes:
        op.create_index(NAME, "examples", ["run_id", "created_at"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="examples")
