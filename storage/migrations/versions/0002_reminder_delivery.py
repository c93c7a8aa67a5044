"""reminder delivery: the asked-for occurrence beside the retry time, and who to mention

``due_at`` becomes "when the dispatcher should next try" (it moves on retries);
``occurs_at`` keeps the occurrence the user asked for, so lateness and the next
recurrence are computed from it. An index on (user_id, status) answers the
per-user cap without scanning.

Revision ID: 0002_reminders
Revises: 0001
Create Date: 2026-11-28 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_reminders"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurs_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("mention", sa.String(length=256), nullable=True))
        batch_op.create_index("ix_reminders_user_status", ["user_id", "status"], unique=False)
    op.execute("UPDATE reminders SET occurs_at = due_at WHERE occurs_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_user_status")
        batch_op.drop_column("mention")
        batch_op.drop_column("occurs_at")
