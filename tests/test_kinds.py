"""apimachinery.kinds: each kind's declaration agrees with its schema, and the server reads declarations only.

Why: the strategic-merge tags of a kind come from the one table of struct
tags (apimachinery.kinds.tags) through the kind's ``structs`` (where each
struct sits); a position declared wrongly, or forgotten, would silently make
a list replace instead of merge. These tests walk each kind's real schema.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apimachinery.kinds import KIND_BY_KEY, KINDS
from apimachinery.kinds.tags import FIELD_TAGS
from apimachinery.resources import BY_KEY, RESOURCES
from apiserver.schematypes import Type, _defs, root

ROOT = Path(__file__).resolve().parent.parent


def _struct_positions(t: Type, path: str, out: dict[str, str], depth: int = 0) -> None:
    """Every struct reachable through struct fields and list items (not maps), by dotted path."""
    if depth > 12:
        return
    if t.kind == "list":
        _struct_positions(t.item(), path, out, depth + 1)
        return
    if t.kind != "struct":
        return
    if path and t.definition:
        out[path] = t.definition
    for name in t.schema.get("properties") or {}:
        _struct_positions(t.field(name), f"{path}.{name}" if path else name, out, depth + 1)


@pytest.mark.parametrize("key", [k.resource.key for k in KINDS])
def test_declared_structs_are_where_the_schema_has_them(key: str) -> None:
    positions: dict[str, str] = {}
    _struct_positions(root(key), "", positions)
    declared = dict(KIND_BY_KEY[key].structs)
    assert {p: positions.get(p) for p in declared} == declared
    tagged = {d for (d, _), tags in FIELD_TAGS.items() if tags.patch is not None}
    forgotten = {p: d for p, d in positions.items() if d in tagged and p not in declared}
    assert forgotten == {}


def test_every_tag_names_a_real_field() -> None:
    defs = _defs()
    missing = [(d, p) for d, p in FIELD_TAGS if p not in ((defs.get(d) or {}).get("properties") or {})]
    assert missing == []


def test_index_follows_the_declarations() -> None:
    assert RESOURCES == tuple(k.resource for k in KINDS)
    assert set(BY_KEY) == set(KIND_BY_KEY)
    assert len(KINDS) == len(KIND_BY_KEY), "two kinds declare the same resource"


@pytest.mark.parametrize("module", ["registry", "apply", "tables", "discovery", "openapi", "schematypes"])
def test_generic_server_code_does_not_branch_on_a_resource_name(module: str) -> None:
    """Behaviour of one kind is a declaration (ResourceType flag, Kind field), not ``if rt.key == "pods"``."""
    text = (ROOT / "apiserver" / f"{module}.py").read_text()
    keys = "|".join(re.escape(k) for k in BY_KEY)
    branches = re.findall(rf'(?:rt\.key|key)\s*(?:==|!=|in|not in)\s*[\(\{{\[]?\s*"(?:{keys})"', text)
    assert branches == []
    kinds = "|".join(re.escape(k.resource.kind) for k in KINDS)
    assert re.findall(rf'\.kind\s*(?:==|!=)\s*"(?:{kinds})"', text) == []
    assert re.findall(rf'\("[a-z0-9.]*",\s*"(?:{kinds})"\)', text) == [], "a (group, kind) table entry"
