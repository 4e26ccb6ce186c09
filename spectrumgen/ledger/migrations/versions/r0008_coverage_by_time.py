"""An index on parameter_coverage (spec_name, last_generated): planning keeps a spec's coverage
in memory and reads only the cells counted since its last look: 0.4 ms at 18,000 covered cells
with this index, 10 ms without (a scan of them all), 30-34 ms to read them all.

Revision ID: r0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0008"
down_revision = "r0007"
branch_labels = None
depends_on = None

NAME = "ix_parameter_coverage_spec_name_last_generated"


def upgrade() -> None:
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("parameter_coverage")}
    if NAME not in indexes:
        op.create_index(NAME, "parameter_coverage", ["spec_name", "last_generated"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="parameter_coverage")
