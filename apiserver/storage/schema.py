"""SQL tables of the store (docs/architecture.md, "Storage").

Invariant: ``revision`` has exactly one row (id=1); every write transaction
locks it first, so commit order equals revision order and a watcher that
reads ``changes`` in revision order never sees a gap.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table

metadata = MetaData()

objects = Table(
    "objects",
    metadata,
    Column("resource", String(253), primary_key=True),
    Column("namespace", String(253), primary_key=True),
    Column("name", String(253), primary_key=True),
    Column("uid", String(64), nullable=False),
    Column("resource_version", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
)

changes = Table(
    "changes",
    metadata,
    Column("revision", BigInteger, primary_key=True, autoincrement=False),
    Column("resource", String(253), nullable=False),
    Column("namespace", String(253), nullable=False),
    Column("name", String(253), nullable=False),
    Column("type", String(16), nullable=False),
    Column("body", LargeBinary, nullable=False),
)
Index("ix_changes_resource_revision", changes.c.resource, changes.c.revision)

revision = Table(
    "revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
    Column("compacted", BigInteger, nullable=False),
)
