"""The records that cross the storage seam, and the sink committed changes flow into.

Why a module of their own: the SQL log (database.py), the write path
(store.py), both dialects and the watch cache all speak these types; kept in a
leaf that imports nothing of ours, none of them has to import another to get
them, so the store and the watch cache never import each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
# One stored change as the log returns it: (revision, type, resource, namespace, name, body JSON).
ChangeRow = tuple[int, str, str, str, str, bytes]


@dataclass(slots=True)
class Op:
    """One object write. ``obj`` is the full new body (for DELETED: the last body)."""

    type: EventType
    resource: str
    namespace: str
    name: str
    obj: dict[str, Any]
    expect_rv: int | None = None


@dataclass(slots=True)
class Change:
    """A committed change, as fed to the watch cache."""

    revision: int
    type: EventType
    resource: str
    namespace: str
    name: str
    obj: dict[str, Any]
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Snapshot:
    """Everything the sink needs at start, read in one transaction."""

    revision: int
    compacted: int
    objects: list[tuple[str, str, str, bytes]]
    changes: list[ChangeRow]


class Versioned(Protocol):
    """A stored object as the sink holds it: only its revision matters to the store."""

    revision: int


class ChangeSink(Protocol):
    """Where the store publishes committed changes (the watch cache implements it).

    Invariants the store keeps: ``load`` and ``load_history`` once at start,
    then ``apply`` with changes in strictly increasing revision order, on the
    event loop. The store reads ``revision`` and ``get`` back (a single writer
    prechecks writes against them) and waits with ``wait_for`` when the sink
    is fed by polling.
    """

    revision: int

    def load(self, revision: int, objects: Iterable[tuple[str, str, str, bytes]]) -> None: ...

    def load_history(self, compacted: int, changes: Iterable[ChangeRow]) -> None: ...

    def apply(self, changes: Iterable[Change]) -> None: ...

    def get(self, resource: str, namespace: str, name: str) -> Versioned | None: ...

    async def wait_for(self, revision: int, *, timeout: float) -> bool: ...
