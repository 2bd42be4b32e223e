"""apimachinery.kinds: each kind's declaration agrees with its schema, and the server reads declarations only.

Why: the strategic-merge tags of a kind come from the one table of struct
tags (apimachinery.kinds.tags) through the kind's ``structs`` (where each
struct sits); a position declared wrongly, or forgotten, would silently make
a list replace instead of merge. These tests walk each kind's real schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from apimachinery.errors import StatusError
from apimachinery.kinds import KIND_BY_KEY, KINDS
from apimachinery.kinds.tags import FIELD_TAGS
from apimachinery.resources import BY_KEY, RESOURCES
from apimachinery.schemas import MODELS, definition_name, model_named
from apimachinery.selectors import OBJECT_META_FIELDS, field_matcher, parse_field_selector
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
    if t.definition:  # the root too: a kind's top-level lists may carry tags (ServiceAccount.secrets)
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


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    cur = obj
    *parents, last = path.split(".")
    for p in parents:
        cur = cur.setdefault(p, {})
    cur[last] = value
    return obj


@pytest.mark.parametrize("key", [k.resource.key for k in KINDS])
def test_every_selectable_field_is_declared_with_its_reader(key: str) -> None:
    """A field a kind lists for fieldSelector comes with how to read it, and reads what it names.

    A bare name, a non-callable, a reader of the wrong path or a path the
    schema lacks fails here; the watch cache would otherwise compare against
    the wrong value (or crash) for every event.
    """
    rt = KIND_BY_KEY[key].resource
    names = [entry[0] for entry in rt.selectable_fields]
    assert all(isinstance(e, tuple) and len(e) == 2 and isinstance(e[0], str) and callable(e[1])
               for e in rt.selectable_fields), rt.selectable_fields
    assert len(names) == len(set(names)), "a field declared twice"
    assert not set(names) & set(OBJECT_META_FIELDS), "ObjectMeta's fields are every kind's already"
    assert list(rt.field_readers) == [*OBJECT_META_FIELDS, *names]
    for name, read in rt.field_readers.items():
        assert read({}) in ("", "false"), name
        t = root(key)
        for part in name.split("."):
            assert t.declares(part), f"{rt.kind} has no field {name}"
            t = t.field(part)
        scalar = t.schema.get("type")
        if scalar == "string":
            assert read(_set({}, name, "marker-value")) == "marker-value", name
        elif scalar == "boolean":
            assert (read(_set({}, name, True)), read(_set({}, name, False)), read({})) == ("true", "false", "false")
        else:
            assert t.kind == "struct", f"{name}: a field selector compares scalars"


@pytest.mark.parametrize("key", [k.resource.key for k in KINDS])
def test_field_label_support_is_the_kinds_declaration(key: str) -> None:
    """The 400 ``field label not supported`` list is exactly what the kind declares, plus ObjectMeta's."""
    rt = KIND_BY_KEY[key].resource
    for name in rt.field_readers:
        assert field_matcher(parse_field_selector(f"{name}=x"), rt.field_readers) is not None
    undeclared = {n for k in KINDS for n, _ in k.resource.selectable_fields} - set(rt.field_readers)
    for name in sorted(undeclared | {"spec.nothing"}):
        with pytest.raises(StatusError) as err:
            field_matcher(parse_field_selector(f"{name}=x"), rt.field_readers)
        assert err.value.status["message"] == f"field label not supported: {name}"


@pytest.mark.parametrize("module", ["apimachinery/selectors.py", "apiserver/watchcache.py", "apiserver/registry.py"])
def test_generic_selector_code_names_no_kind_field(module: str) -> None:
    """How a kind's field reads lives in the kind; generic code names only ObjectMeta's fields."""
    text = (ROOT / module).read_text()
    fields = {n for k in KINDS for n, _ in k.resource.selectable_fields if "." in n}  # "type" is any word
    assert sorted(f for f in fields if f'"{f}"' in text) == []


@pytest.mark.parametrize("key", [k.resource.key for k in KINDS])
def test_each_kind_names_its_own_schema_model(key: str) -> None:
    """apimachinery.schemas.MODELS is derived from the names the kinds declare; each names its own kind."""
    kind = KIND_BY_KEY[key]
    model = MODELS[key]
    assert f"{model.__module__}.{model.__qualname__}" == kind.schema
    assert definition_name(model).rpartition(".")[2] == kind.resource.kind


def test_a_schema_name_that_is_no_model_is_refused() -> None:
    with pytest.raises(TypeError, match=re.escape("apimachinery.schemas.pod.nothing is not a pydantic model")):
        model_named("apimachinery.schemas.pod.nothing")
