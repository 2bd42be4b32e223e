"""Storage-level failures; the registry turns them into Status (one place)."""

from __future__ import annotations


class StorageError(Exception):
    def __init__(self, resource: str, namespace: str, name: str) -> None:
        super().__init__(f"{resource} {namespace}/{name}")
        self.resource = resource
        self.namespace = namespace
        self.name = name


class KeyExists(StorageError):
    """A create hit an existing (resource, namespace, name)."""


class KeyNotFound(StorageError):
    """An update or delete named an object that is not stored."""


class VersionConflict(StorageError):
    """An update or delete's expected resourceVersion is not the stored one."""


class Unavailable(Exception):
    """The database failed the transaction (locked, disconnected...)."""


class Busy(Exception):
    """A quick (event-loop) write found the database locked by another process: nothing was written."""
