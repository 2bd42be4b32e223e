"""initial: objects, changes, revision

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "objects",
        sa.Column("resource", sa.String(253), primary_key=True),
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("name", sa.String(253), primary_key=True),
        sa.Column("uid", sa.String(64), nullable=False),
        sa.Column("resource_version", sa.BigInteger, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("resource", sa.String(253), nullable=False),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_changes_resource_revision", "changes", ["resource", "revision"])
    op.create_table(
        "revision",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("compacted", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("revision", sa.column("id", sa.Integer), sa.column("revision", sa.BigInteger),
                 sa.column("compacted", sa.BigInteger)),
        [{"id": 1, "revision": 0, "compacted": 0}],
    )


def downgrade() -> None:
    op.drop_table("revision")
    op.drop_index("ix_changes_resource_revision", table_name="changes")
    op.drop_table("changes")
    op.drop_table("objects")
