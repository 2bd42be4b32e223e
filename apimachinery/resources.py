"""The index of resource types kubelite serves, derived from apimachinery.kinds.

Why: discovery (aggregated and legacy), OpenAPI, URL routing, kubectl tables
and the client's short names all derive from this list; each kind is
declared once, in its own module under apimachinery/kinds/ (see there).
"""

from __future__ import annotations

from apimachinery.kinds import KINDS
from apimachinery.kinds.base import ResourceType

RESOURCES: tuple[ResourceType, ...] = tuple(k.resource for k in KINDS)

BY_KEY: dict[str, ResourceType] = {r.key: r for r in RESOURCES}
BY_GROUP_PLURAL: dict[tuple[str, str], ResourceType] = {(r.group, r.plural): r for r in RESOURCES}
BY_GROUP_KIND: dict[tuple[str, str], ResourceType] = {(r.group, r.kind): r for r in RESOURCES}

__all__ = ["BY_GROUP_KIND", "BY_GROUP_PLURAL", "BY_KEY", "RESOURCES", "ResourceType", "group_versions", "lookup"]


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    r = BY_GROUP_PLURAL.get((group, plural))
    if r is None or r.version != version:
        return None
    return r


def group_versions() -> list[tuple[str, str]]:
    """Every (group, version) we serve, core first, in registry order."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen
