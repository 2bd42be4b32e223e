"""The structural schema of every kind: which lists are keyed, which maps are atomic.

Why: server-side apply and managedFields (structured-merge-diff in
Kubernetes) need to know, for each position in an object, whether a list is
``atomic`` (replaced whole, owned as one field), a ``set`` of scalars, or a
``map`` keyed by some of its items' fields (``spec.ports`` by port and
protocol), and whether a map or struct is atomic (``spec.selector``).
Kubernetes keeps this as ``+listType``/``+listMapKey``/``+mapType`` tags on
Go struct fields and publishes it in OpenAPI as ``x-kubernetes-list-type``
and friends; here the list tags live, with the strategic-merge tags of the
same fields, in apimachinery.kinds.tags (keyed by (definition name,
property)), the map/struct tags below, and the shapes come from the same pydantic schemas the server
decodes with (apimachinery.schemas), so OpenAPI and apply cannot disagree.

Invariant: a list without a tag is atomic, as in Kubernetes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.tags import ATOMIC, CORE, META, ListType, list_types
from apimachinery.schemas import MODELS, components, definition_name

#: Non-atomic lists, by (definition name, property); every other list is atomic. Derived from the
#: one table of struct tags (apimachinery.kinds.tags), which strategic merge reads too.
LIST_TYPES: Mapping[tuple[str, str], ListType] = MappingProxyType(list_types())

#: Maps whose keys are owned together (``+mapType=atomic``).
ATOMIC_MAPS: frozenset[tuple[str, str]] = frozenset({
    (CORE + "ServiceSpec", "selector"),
    (CORE + "PodSpec", "nodeSelector"),
})

#: Structs owned as one field (``+structType=atomic``).
ATOMIC_STRUCTS: frozenset[str] = frozenset({
    CORE + "ObjectReference",
    CORE + "LocalObjectReference",
    CORE + "ObjectFieldSelector",
    CORE + "ResourceFieldSelector",
    CORE + "ConfigMapKeySelector",
    CORE + "SecretKeySelector",
    META + "LabelSelector",
})

#: Defaults of list-map key fields: an item that omits them is keyed by the default.
KEY_DEFAULTS: Mapping[tuple[str, str], Any] = MappingProxyType({
    (CORE + "ServicePort", "protocol"): "TCP",
    (CORE + "ContainerPort", "protocol"): "TCP",
})


class SchemaError(ValueError):
    """An object does not fit its structural schema (e.g. a list item without its key)."""


# (id(schema), owner, field) -> (schema, Type): schemas live as long as the process's
# definitions, and the stored schema guards against a reused id.
_FIELD_MEMO: dict[tuple[int, tuple[str, str], str], tuple[Mapping[str, Any], Type]] = {}


@dataclass(frozen=True)
class Type:
    """One position in a kind's schema.

    ``kind`` is ``struct`` (declared fields), ``map`` (free keys),
    ``list``, ``scalar`` or ``any`` (a part we do not model: maps are
    granular, lists atomic, as structured-merge-diff deduces).
    """

    kind: str
    schema: Mapping[str, Any]
    defs: Mapping[str, Any]
    definition: str = ""
    owner: tuple[str, str] = ("", "")

    @property
    def atomic(self) -> bool:
        if self.kind == "struct":
            return self.definition in ATOMIC_STRUCTS
        if self.kind == "map":
            return self.owner in ATOMIC_MAPS
        if self.kind == "list":
            return self.list_type.kind == "atomic"
        return self.kind == "scalar"

    @property
    def list_type(self) -> ListType:
        return LIST_TYPES.get(self.owner, ATOMIC)

    def declares(self, name: str) -> bool:
        return self.kind == "struct" and name in (self.schema.get("properties") or {})

    def field(self, name: str) -> Type:
        """The type of a struct field or map value; ``any`` for an undeclared one (memoized)."""
        key = (id(self.schema), self.owner, name)
        hit = _FIELD_MEMO.get(key)
        if hit is not None and hit[0] is self.schema:
            return hit[1]
        result = self._field(name)
        if self.kind in ("struct", "map"):
            _FIELD_MEMO[key] = (self.schema, result)
        return result

    def _field(self, name: str) -> Type:
        if self.kind == "struct":
            sub = (self.schema.get("properties") or {}).get(name)
            if sub is None:
                return Type("any", {}, self.defs)
            return _resolve(sub, self.defs, owner=(self.definition, name))
        if self.kind == "map":
            sub = self.schema.get("additionalProperties")
            if isinstance(sub, dict) and sub:
                return _resolve(sub, self.defs, owner=self.owner)
        return Type("any", {}, self.defs)

    def item(self) -> Type:
        key = (id(self.schema), self.owner, "[]")
        hit = _FIELD_MEMO.get(key)
        if hit is not None and hit[0] is self.schema:
            return hit[1]
        result = self._item()
        if self.kind == "list":
            _FIELD_MEMO[key] = (self.schema, result)
        return result

    def _item(self) -> Type:
        if self.kind == "list":
            sub = self.schema.get("items")
            if isinstance(sub, dict) and sub:
                return _resolve(sub, self.defs, owner=self.owner)
        return Type("any", {}, self.defs)

    def key_default(self, name: str) -> Any:
        """The default of a key field of this (list item) struct, or None."""
        return KEY_DEFAULTS.get((self.definition, name))


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any], *, owner: tuple[str, str]) -> Type:
    ref = schema.get("$ref")
    definition = ""
    if isinstance(ref, str):
        definition = ref.rsplit("/", 1)[-1]
        schema = defs.get(definition) or {}
    if "properties" in schema:
        return Type("struct", schema, defs, definition, owner)
    if "items" in schema or schema.get("type") == "array":
        return Type("list", schema, defs, definition, owner)
    if schema.get("type") == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return Type("map", schema, defs, definition, owner)
        return Type("any", schema, defs, definition, owner)
    if not schema:
        return Type("any", schema, defs, definition, owner)
    return Type("scalar", schema, defs, definition, owner)


@functools.cache
def _defs() -> Mapping[str, Any]:
    return MappingProxyType(components(MODELS.keys()))


def root(key: str) -> Type:
    """The top-level type of the kind stored under ``key`` (``services``, ``leases.coordination.k8s.io``)."""
    name = definition_name(MODELS[key])
    defs = _defs()
    return Type("struct", defs[name], defs, name)


def annotate(defs: dict[str, Any]) -> None:
    """Add the list/map/struct tags to OpenAPI component schemas, in place."""
    for (definition, prop), lt in LIST_TYPES.items():
        node = ((defs.get(definition) or {}).get("properties") or {}).get(prop)
        if node is None:
            continue
        node["x-kubernetes-list-type"] = lt.kind
        if lt.keys:
            node["x-kubernetes-list-map-keys"] = list(lt.keys)
    for (definition, prop) in ATOMIC_MAPS:
        node = ((defs.get(definition) or {}).get("properties") or {}).get(prop)
        if node is not None:
            node["x-kubernetes-map-type"] = "atomic"
    for definition in ATOMIC_STRUCTS:
        if definition in defs:
            defs[definition]["x-kubernetes-map-type"] = "atomic"
    for (definition, prop), value in KEY_DEFAULTS.items():
        node = ((defs.get(definition) or {}).get("properties") or {}).get(prop)
        if node is not None:
            node["default"] = value
