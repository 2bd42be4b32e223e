"""Server-side apply and managedFields, as kube-apiserver's field manager does them.

Why: ``kubectl apply --server-side``, controllers written with apply
configurations and kopf all rely on Kubernetes' ownership rules: every write
records which manager set which fields (``metadata.managedFields``, operation
``Update`` or ``Apply``, ``fieldsType: FieldsV1``); an apply merges the
manager's configuration into the live object, removes the fields the manager
stopped applying unless someone else owns them, and refuses (409) to change a
field another manager owns to a different value unless ``force=true``.

This is a rewrite of the parts of sigs.k8s.io/structured-merge-diff and
k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager that shape those
results (fieldpath sets and their FieldsV1 encoding, typed compare/merge/
remove, the Updater's Update/Apply, strip-meta, before-first-apply, the
last-applied upgrade for ``kubectl``, the cap on Update managers).
Positions are typed by apiserver.schematypes.

Invariants:
- a field set is a set of paths; a path is a tuple of path elements
  ``("f", name)``, ``("k", ((keyname, json), ...))``, ``("v", json)`` or
  ``("i", index)``; values inside elements are canonical JSON text;
- no function mutates its arguments.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from apimachinery import errors
from apimachinery.errors import StatusError
from apimachinery.kinds import KIND_BY_KEY
from apimachinery.labels import ANNOTATION_LAST_APPLIED
from apimachinery.resources import ResourceType
from apimachinery.timestamps import format_time
from apiserver.schematypes import SchemaError, Type, root

PE = tuple[str, Any]
Path = tuple[PE, ...]

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
MAX_MANAGER_LENGTH = 128


class _Missing:
    """An absent value (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# Paths the field manager never records (stripmeta.go).
_STRIP: frozenset[Path] = frozenset({
    (("f", "apiVersion"),),
    (("f", "kind"),),
    (("f", "metadata"),),
    *((("f", "metadata"), ("f", name)) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion",
    )),
})


# --- values and path elements -------------------------------------------------


def _canon(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _same(a: Any, b: Any) -> bool:
    """JSON equality (a bool is never equal to a number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(type(a) is type(b) and a == b) or (
        isinstance(a, int | float) and isinstance(b, int | float) and a == b
    )


def item_element(item: Any, lst: Type, index: int) -> PE:
    """The path element of one list item: its key, its value (sets) or its index."""
    lt = lst.list_type
    if lt.kind == "map":
        if not isinstance(item, dict):
            raise SchemaError(f"element {index}: associative list with keys may only contain maps")
        it = lst.item()
        parts: list[tuple[str, str]] = []
        for name in sorted(lt.keys):
            value = item.get(name, MISSING)
            if value is MISSING or value is None:
                value = it.key_default(name)
                if value is None:
                    raise SchemaError(f"element {index}: associative list with keys has an element that omits key "
                                      f'field "{name}" (and doesn\'t have default value)')
            parts.append((name, _canon(value)))
        return ("k", tuple(parts))
    if lt.kind == "set":
        return ("v", _canon(item))
    return ("i", index)


def element_string(pe: PE) -> str:
    """fieldpath.PathElement.String(): ``.name``, ``[port=80,protocol="TCP"]``, ``[="x"]``, ``[0]``."""
    kind, payload = pe
    if kind == "f":
        return f".{payload}"
    if kind == "k":
        return "[" + ",".join(f"{name}={value}" for name, value in payload) + "]"
    if kind == "v":
        return f"[={payload}]"
    return f"[{payload}]"


def path_string(path: Path) -> str:
    return "".join(element_string(pe) for pe in path)


def _value_order(text: str) -> tuple[int, Any]:
    v = json.loads(text)
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, int | float):
        return (2, v)
    if isinstance(v, str):
        return (3, v)
    return (4, text)


def _element_order(pe: PE) -> tuple[Any, ...]:
    kind, payload = pe
    if kind == "f":
        return (0, payload)
    if kind == "k":
        return (1, tuple((name, _value_order(value)) for name, value in payload))
    if kind == "v":
        return (2, _value_order(payload))
    return (3, payload)


# --- FieldsV1 ---------------------------------------------------------------------


def _element_key(pe: PE) -> str:
    kind, payload = pe
    if kind == "k":
        return "k:{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in payload) + "}"
    return f"{kind}:{payload}"


def _parse_element(key: str) -> PE:
    kind, sep, rest = key.partition(":")
    if not sep or kind not in ("f", "k", "v", "i"):
        raise ValueError(f"invalid path element {key!r}")
    if kind == "f":
        return ("f", rest)
    if kind == "i":
        return ("i", int(rest))
    value = json.loads(rest)
    if kind == "k":
        if not isinstance(value, dict):
            raise ValueError(f"invalid key {rest!r}")
        return ("k", tuple((name, _canon(value[name])) for name in sorted(value)))
    return ("v", _canon(value))


def encode_fields(paths: Iterable[Path]) -> dict[str, Any]:
    """A field set as FieldsV1 JSON: nested ``f:``/``k:``/``v:``/``i:`` keys, ``.`` marking a member parent."""
    tree: dict[PE, Any] = {}
    members: set[Path] = set()
    for path in paths:
        members.add(path)
        node = tree
        for pe in path:
            node = node.setdefault(pe, {})

    def render(node: dict[PE, Any], prefix: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and prefix in members and prefix:
            out["."] = {}
        for pe in sorted(node, key=_element_order):
            out[_element_key(pe)] = render(node[pe], (*prefix, pe))
        return out

    return render(tree, ())


def decode_fields(fields: Any) -> set[Path]:
    """The field set a FieldsV1 object encodes; ValueError when it is malformed."""
    out: set[Path] = set()

    def walk(node: Any, prefix: Path) -> None:
        if not isinstance(node, dict):
            raise ValueError("FieldsV1 nodes must be objects")
        if not node or "." in node:
            if prefix:
                out.add(prefix)
        for key, child in node.items():
            if key == ".":
                continue
            walk(child, (*prefix, _parse_element(key)))

    walk(fields or {}, ())
    return out


# --- typed walks ----------------------------------------------------------------------


def _shape(typ: Type, *values: Any) -> str:
    """How a position is walked: ``map`` (granular keys), ``list`` (keyed items) or ``leaf``."""
    present = [v for v in values if v is not MISSING and v is not None]
    if typ.kind in ("struct", "map"):
        if typ.atomic or not all(isinstance(v, dict) for v in present):
            return "leaf"
        return "map"
    if typ.kind == "list":
        if typ.atomic or not all(isinstance(v, list) for v in present):
            return "leaf"
        return "list"
    if typ.kind == "any" and present and all(isinstance(v, dict) for v in present):
        return "map"
    return "leaf"


def _empty(v: Any) -> bool:
    return v is MISSING or v is None or (isinstance(v, dict | list) and not v)


def _index(items: Any, lst: Type) -> tuple[list[PE], dict[PE, Any]]:
    order: list[PE] = []
    seen: dict[PE, Any] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        pe = item_element(item, lst, i)
        if pe in seen:
            raise SchemaError(f"duplicate entries for key {element_string(pe)}")
        seen[pe] = item
        order.append(pe)
    return order, seen


def to_field_set(value: Any, typ: Type) -> set[Path]:
    """typed.ToFieldSet: every field a value sets (leaves, list items, map entries, empty structs)."""
    out: set[Path] = set()

    def walk(v: Any, t: Type, path: Path) -> None:
        shape = _shape(t, v)
        if shape == "leaf":
            if path:
                out.add(path)
            return
        if shape == "map":
            if not isinstance(v, dict):
                return
            for key, child in v.items():
                cp = (*path, ("f", key))
                walk(child, t.field(key), cp)
                if child is None or (isinstance(child, dict) and not child) or not t.declares(key):
                    out.add(cp)
            return
        order, seen = _index(v, t)
        it = t.item()
        for pe in order:
            cp = (*path, pe)
            walk(seen[pe], it, cp)
            out.add(cp)

    walk(value, typ, ())
    return out


@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


def compare(lhs: Any, rhs: Any, typ: Type) -> Comparison:
    """typed.Compare: the fields added, modified and removed going from ``lhs`` to ``rhs``."""
    cmp = Comparison()

    def leaf(left: Any, right: Any, path: Path) -> None:
        if left is MISSING and right is MISSING:
            return
        if left is MISSING:
            cmp.added.add(path)
        elif right is MISSING:
            cmp.removed.add(path)
        elif not _same(left, right):
            cmp.modified.add(path)

    def walk(left: Any, right: Any, t: Type, path: Path) -> None:
        if left is MISSING and right is MISSING:
            return
        shape = _shape(t, left, right)
        if shape != "leaf" and _empty(left) and _empty(right):
            shape = "leaf"
        if shape == "leaf":
            leaf(left, right, path)
            return
        if shape == "map":
            lm = left if isinstance(left, dict) else {}
            rm = right if isinstance(right, dict) else {}
            for key in {**lm, **rm}:
                walk(lm.get(key, MISSING), rm.get(key, MISSING), t.field(key), (*path, ("f", key)))
        else:
            lo, ls = _index(left, t)
            ro, rs = _index(right, t)
            it = t.item()
            for pe in dict.fromkeys([*lo, *ro]):
                walk(ls.get(pe, MISSING), rs.get(pe, MISSING), it, (*path, pe))
        if path and left is MISSING:
            cmp.added.add(path)
        elif path and right is MISSING:
            cmp.removed.add(path)

    walk(lhs, rhs, typ, ())
    return cmp


def _drop_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_nulls(x) for x in v]
    return v


def merge(lhs: Any, rhs: Any, typ: Type) -> Any:
    """typed.Merge: ``rhs`` (an applied configuration) merged into ``lhs`` (the live object)."""
    if rhs is MISSING:
        return copy.deepcopy(lhs)
    shape = _shape(typ, lhs, rhs)
    if shape == "leaf" or (_empty(lhs) and _empty(rhs)):
        return copy.deepcopy(rhs)
    if shape == "map":
        lm = lhs if isinstance(lhs, dict) else {}
        rm = rhs if isinstance(rhs, dict) else {}
        out: dict[str, Any] = {}
        for key in {**lm, **rm}:
            value = merge(lm.get(key, MISSING), rm.get(key, MISSING), typ.field(key))
            if value is not MISSING and value is not None:
                out[key] = value
        return out
    lo, ls = _index(lhs, typ)
    ro, rs = _index(rhs, typ)
    it = typ.item()
    items: list[Any] = []
    shared = [pe for pe in ro if pe in ls]
    nxt = shared.pop(0) if shared else None
    li = ri = 0
    while li < len(lo) or ri < len(ro):
        if li < len(lo) and ri < len(ro):
            pe = lo[li]
            if pe == ro[ri]:
                items.append(merge(ls[pe], rs[pe], it))
                li, ri = li + 1, ri + 1
                nxt = shared.pop(0) if shared else None
                continue
            if pe in rs and nxt is not None and nxt != pe:
                li += 1
                continue
        if li < len(lo) and lo[li] not in rs:
            items.append(copy.deepcopy(ls[lo[li]]))
            li += 1
            continue
        if ri < len(ro):
            pe = ro[ri]
            items.append(merge(ls.get(pe, MISSING), rs[pe], it))
            ri += 1
            if nxt is not None and nxt == pe:
                nxt = shared.pop(0) if shared else None
            continue
        li += 1  # a shared item already merged from the right: skip it
    return [_drop_nulls(i) for i in items if i is not MISSING]


def remove(value: Any, paths: set[Path], typ: Type, *, keep: set[Path] | None = None) -> Any:
    """typed.RemoveItems: ``value`` without the subtrees at ``paths``.

    A path that is an ancestor of a ``keep`` path is descended into rather
    than dropped (another manager still owns something below it). A map or
    list this empties is dropped too, as Go's ``omitempty`` would.
    """
    keep = keep or set()
    below = {p[:i] for p in paths for i in range(1, len(p))}
    kept_below = {p[:i] for p in keep for i in range(1, len(p))}

    def walk(v: Any, t: Type, path: Path) -> Any:
        shape = _shape(t, v)
        if shape == "map" and isinstance(v, dict):
            out: dict[str, Any] = {}
            for key, child in v.items():
                cp = (*path, ("f", key))
                if cp in paths and cp not in kept_below:
                    continue
                if cp in below or cp in paths:
                    pruned = walk(child, t.field(key), cp)
                    if isinstance(pruned, dict | list) and not pruned and child:
                        continue
                    out[key] = pruned
                else:
                    out[key] = child
            return out
        if shape == "list" and isinstance(v, list):
            it = t.item()
            items: list[Any] = []
            for i, child in enumerate(v):
                cp = (*path, item_element(child, t, i))
                if cp in paths and cp not in kept_below:
                    continue
                items.append(walk(child, it, cp) if (cp in below or cp in paths) else child)
            return items
        return v

    return walk(value, typ, ())


# --- managers ---------------------------------------------------------------------


@dataclass
class Manager:
    """One managedFields entry, with its fields decoded."""

    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str
    fields: set[Path]

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.manager, self.operation, self.api_version if self.operation == UPDATE else "",
                self.subresource)

    def printed(self) -> str:
        """printManager(): how a conflict names this manager."""
        out = json.dumps(self.manager)
        if self.subresource:
            out += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out

    def entry(self) -> dict[str, Any]:
        e: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            e["time"] = self.time
        e["fieldsType"] = FIELDS_V1
        e["fieldsV1"] = encode_fields(self.fields)
        if self.subresource:
            e["subresource"] = self.subresource
        return e


def decode_managed(entries: Any) -> list[Manager]:
    """Decode ``metadata.managedFields``; ValueError on a malformed entry."""
    out: list[Manager] = []
    for e in entries or []:
        if not isinstance(e, dict):
            raise ValueError("managedFields entries must be objects")
        if e.get("fieldsType", FIELDS_V1) != FIELDS_V1:
            raise ValueError(f'invalid fieldsType "{e.get("fieldsType")}"')
        out.append(Manager(str(e.get("manager") or ""), str(e.get("operation") or ""),
                           str(e.get("apiVersion") or ""), e.get("time"), str(e.get("subresource") or ""),
                           decode_fields(e.get("fieldsV1"))))
    return out


def encode_managed(managers: list[Manager]) -> list[dict[str, Any]]:
    """The entries in kube-apiserver's order: Apply before Update, then by time, manager, version, subresource."""
    ordered = sorted(managers, key=lambda m: (m.operation, m.time or "", m.manager, m.api_version, m.subresource))
    return [m.entry() for m in ordered if m.fields]


def _is_reset(entries: Any) -> bool:
    """``managedFields: [{}]`` asks to clear the managed fields."""
    return isinstance(entries, list) and len(entries) == 1 and entries[0] == {}


def zero_object(rt: ResourceType) -> dict[str, Any]:
    """What the kind's Go zero value serializes to: the "old" object of a create.

    Fields that are non-pointer structs (``spec``, ``status``) exist in it, so
    a create does not record them as added parents (``f:spec`` has no ``.``),
    as on kube-apiserver. A fresh copy each call: callers change it.
    """
    return {k: _fresh(v) for k, v in _zero_template(rt.key).items()}


@functools.cache
def _zero_template(key: str) -> dict[str, Any]:
    """Built once per kind: metadata, empty spec/status when the schema has them, the kind's declared zero fields."""
    props = (root(key).schema.get("properties") or {})
    obj: dict[str, Any] = {"metadata": {"creationTimestamp": None}}
    for name in ("spec", "status"):
        if name in props:
            obj[name] = {}
    obj.update(KIND_BY_KEY[key].zero)
    return obj


def _fresh(value: Any) -> Any:
    """A new copy of a JSON value's containers (scalars shared); cheaper than deepcopy."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def _with_zero(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as the Go struct serializes it: absent non-pointer fields (``status``) present and zero."""
    zero = zero_object(rt)
    missing = [k for k in zero if k not in obj and k != "metadata"]
    if not missing:
        return obj
    return {**obj, **{k: zero[k] for k in missing}}


def _ignored(rt: ResourceType, subresource: str) -> tuple[str, ...]:
    """Top-level fields a write through this endpoint cannot change (the strategy's reset fields)."""
    if subresource == "status":
        return tuple(k for k in (root(rt.key).schema.get("properties") or {}) if k != "status")
    if "status" in rt.subresources:
        return ("status",)
    return ()


def _filter(paths: set[Path], ignored: tuple[str, ...]) -> set[Path]:
    if not ignored:
        return {p for p in paths if p not in _STRIP}
    return {p for p in paths if p not in _STRIP and not (p and p[0][0] == "f" and p[0][1] in ignored)}


def _cap(managers: list[Manager]) -> list[Manager]:
    """capManagersManager: past 10 Update entries, the oldest are merged into ``ancient-changes``."""
    updaters = sorted((m for m in managers if m.operation == UPDATE), key=lambda m: (m.time or "", m.manager))
    length = len(updaters)
    if length <= MAX_UPDATE_MANAGERS:
        return managers
    out = list(managers)
    first: Manager | None = None
    bucket = next((m for m in out if m.manager == ANCIENT_CHANGES and m.operation == UPDATE
                   and not m.subresource), None)
    for m in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        if first is None:
            first = m
            continue
        if m is bucket:
            continue
        if bucket is None:
            out.remove(first)
            bucket = Manager(ANCIENT_CHANGES, UPDATE, first.api_version, first.time, "", set(first.fields))
            out.append(bucket)
        bucket.fields |= m.fields
        bucket.time = m.time  # the merged update is the more recent one
        out.remove(m)
        length -= 1
    return out


def _update(managers: list[Manager], cmp: Comparison, *, me: tuple[str, str, str, str],
            force_take: set[Path]) -> list[Manager]:
    """Updater.update's bookkeeping: others lose what this write removed or took over."""
    out: list[Manager] = []
    for m in managers:
        if m.identity == me:
            out.append(m)
            continue
        fields = m.fields - force_take - cmp.removed
        if fields:
            out.append(Manager(m.manager, m.operation, m.api_version, m.time, m.subresource, fields))
    return out


def record_update(rt: ResourceType, old: dict[str, Any] | None, new: dict[str, Any], *, manager: str,
                  subresource: str = "", now: str | None = None) -> list[dict[str, Any]] | None:
    """The managedFields after a create/update/patch by ``manager`` (operation Update).

    ``old`` is None for a create. ``new`` may carry managedFields the client
    set explicitly (taken as the new baseline, ``[{}]`` resets them);
    otherwise the live object's are the baseline. None means "leave the
    field as it is": the object does not fit its structural schema, as
    kube-apiserver then logs and skips tracking.
    """
    now = now or format_time()
    typ = root(rt.key)
    new_meta = new.get("metadata") or {}
    old_meta = (old or {}).get("metadata") or {}
    try:
        if subresource:
            managers = decode_managed(old_meta.get("managedFields"))
        elif _is_reset(new_meta.get("managedFields")):
            managers = []
        else:
            managers = decode_managed(new_meta.get("managedFields"))
            if not managers:
                managers = decode_managed(old_meta.get("managedFields"))
        base = _with_zero(rt, _strip_managed(old)) if old is not None else zero_object(rt)
        cmp = compare(base, _with_zero(rt, _strip_managed(new)), typ)
    except (SchemaError, ValueError):
        return None
    ignored = _ignored(rt, subresource)
    cmp = Comparison(_filter(cmp.added, ignored), _filter(cmp.modified, ignored), _filter(cmp.removed, ignored))
    changed = cmp.added | cmp.modified
    me = (manager, UPDATE, rt.api_version, subresource)
    managers = _update(managers, cmp, me=me, force_take=changed)
    mine = next((m for m in managers if m.identity == me), None)
    if changed:
        if mine is None:
            managers.append(Manager(manager, UPDATE, rt.api_version, now, subresource, set(changed)))
        else:
            mine.fields = (mine.fields - cmp.removed) | changed
            mine.time = now
    elif mine is not None:
        mine.fields = mine.fields - cmp.removed
    return encode_managed(_cap(managers))


def _strip_managed(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    out = dict(obj)
    out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


# --- apply ------------------------------------------------------------------------------


def conflict_error(conflicts: list[tuple[Manager, Path]]) -> StatusError:
    """internal.NewConflictError: 409 Conflict naming each manager and field path."""
    conflicts = sorted(conflicts, key=lambda c: (c[0].printed(), tuple(_element_order(pe) for pe in c[1])))
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {m.printed()}", "field": path_string(p)}
              for m, p in conflicts]
    if len(conflicts) == 1:
        m, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {m.printed()}: {path_string(p)}"
    else:
        lines: list[str] = []
        by_manager: dict[str, list[Path]] = {}
        for m, p in conflicts:
            by_manager.setdefault(m.printed(), []).append(p)
        for name in sorted(by_manager):
            lines.append(f"conflicts with {name}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[name])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, details={"causes": causes})


def _typed_error(rt: ResourceType, config: dict[str, Any], what: str, message: str) -> StatusError:
    meta = config.get("metadata") or {}
    gvk = f"{rt.group}/{rt.version}, Kind={rt.kind}"
    ns = meta.get("namespace", "") if rt.namespaced else ""
    return StatusError(500, "", f"failed to create typed {what} object ({ns}/{meta.get('name', '')}; {gvk}): "
                                f"{message}")


def check_config(rt: ResourceType, config: Any, *, unknown: list[str]) -> None:
    """The checks kube-apiserver runs on an apply body before merging it."""
    if not isinstance(config, dict):
        raise errors.bad_request("error decoding YAML: the apply configuration must be an object")
    meta = config.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    api_version = config.get("apiVersion")
    if api_version != rt.api_version:
        raise errors.bad_request("Incorrect version specified in apply patch. "
                                 f"Specified patch version: {api_version or ''}, expected: {rt.api_version}")
    if config.get("kind") != rt.kind:
        raise errors.bad_request(f'the kind of the apply configuration "{config.get("kind") or ""}" does not '
                                 f'match the kind of the resource "{rt.kind}"')
    if unknown:
        msgs = [f".{u}: field not declared in schema" for u in unknown]
        text = msgs[0] if len(msgs) == 1 else "errors:\n" + "\n".join(f"  {m}" for m in msgs)
        raise _typed_error(rt, config, "patch", text)


def _allowed_by_last_applied(live: dict[str, Any], typ: Type) -> set[Path]:
    """lastAppliedManager: fields the client-side apply annotation set and nobody changed since."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_LAST_APPLIED)
    if not text:
        return set()
    try:
        last = json.loads(text)
        if not isinstance(last, dict):
            return set()
        return to_field_set(last, typ) - compare(last, live, typ).modified
    except (ValueError, SchemaError):
        return set()


def last_applied_annotation(config: dict[str, Any]) -> str:
    """buildLastApplied: the configuration without the annotation, as kubectl writes it."""
    obj = copy.deepcopy(config)
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(ANNOTATION_LAST_APPLIED, None)
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode() + "\n"


@dataclass
class Applied:
    obj: dict[str, Any]
    changed: bool


def apply(rt: ResourceType, live: dict[str, Any] | None, config: dict[str, Any], *, manager: str, force: bool,
          subresource: str = "", raw_config: dict[str, Any] | None = None, now: str | None = None) -> Applied:
    """Updater.Apply plus kube-apiserver's wrappers; returns the new object with its managedFields.

    ``live`` is None when the object does not exist yet (an apply creates
    it). ``config`` is the decoded configuration; ``raw_config`` the body as
    sent (for the last-applied annotation). Raises a 409 StatusError on
    conflicts unless ``force``.
    """
    now = now or format_time()
    typ = root(rt.key)
    base = _with_zero(rt, _strip_managed(live)) if live is not None else zero_object(rt)
    ignored = _ignored(rt, subresource)
    try:
        managers = decode_managed(((live or {}).get("metadata") or {}).get("managedFields"))
    except ValueError:
        managers = []
    try:
        if live is not None and not managers:
            # skipNonAppliedManager: whatever the object holds belongs to "before-first-apply".
            first = compare(zero_object(rt), base, typ)
            owned = _filter(first.added | first.modified, ignored)
            if owned:
                managers = [Manager(BEFORE_FIRST_APPLY, UPDATE, rt.api_version, now, subresource, owned)]
        merged = merge(base, config, typ)
        applied = _filter(to_field_set(config, typ), ignored)
    except SchemaError as e:
        raise _typed_error(rt, config, "patch", str(e)) from None
    me = (manager, APPLY, "", subresource)
    mine = next((m for m in managers if m.identity == me), None)
    last = mine.fields if mine is not None else set()
    others = [m for m in managers if m.identity != me]
    keep = applied.union(*(m.fields for m in others))
    try:
        new = remove(merged, last - keep, typ, keep=keep) if last else merged
        cmp = compare(base, new, typ)
    except SchemaError as e:
        raise _typed_error(rt, config, "live", str(e)) from None
    cmp = Comparison(_filter(cmp.added, ignored), _filter(cmp.modified, ignored), _filter(cmp.removed, ignored))
    touched = cmp.added | cmp.modified
    conflicts = [(m, p) for m in others for p in m.fields & touched]
    if conflicts and not force and manager == "kubectl" and live is not None:
        allowed = _allowed_by_last_applied(base, typ)
        if all(p in allowed for _, p in conflicts):
            force = True
        else:
            conflicts = [(m, p) for m, p in conflicts if p not in allowed]
    if conflicts and not force:
        raise conflict_error(conflicts)
    changed = not _same(base, new)
    time = now if (changed or mine is None) else mine.time
    mine_new = Manager(manager, APPLY, rt.api_version, time, subresource, applied)
    managers = _update([*others, mine_new], cmp, me=me, force_take=touched)
    out = new if changed else copy.deepcopy(base)
    meta = out.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if (manager == "kubectl" and raw_config is not None and isinstance(annotations, dict)
            and ANNOTATION_LAST_APPLIED in annotations):
        # lastAppliedUpdater: keep client-side apply's annotation in step with what kubectl applied.
        annotations[ANNOTATION_LAST_APPLIED] = last_applied_annotation(raw_config)
    meta["managedFields"] = encode_managed(_cap(managers))
    return Applied(_drop_nulls(out), changed)


def manager_name(field_manager: str | None, user_agent: str | None) -> str:
    """The manager of a write: ``fieldManager``, else the User-Agent's product (``kubectl``, ``curl``)."""
    if field_manager:
        return field_manager
    ua = (user_agent or "").split("/", 1)[0].strip()
    return ua[:MAX_MANAGER_LENGTH]


def check_manager(field_manager: str | None) -> None:
    if field_manager is not None and len(field_manager) > MAX_MANAGER_LENGTH:
        raise errors.bad_request(f"fieldManager: Too long: must have at most {MAX_MANAGER_LENGTH} bytes")
