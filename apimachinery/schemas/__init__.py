"""Resource schemas: one pydantic model per kind, named by the kind (apimachinery.kinds).

Public API:
- ``MODELS``: storage key (``pods``, ``leases.coordination.k8s.io``) -> model.
- ``decode(key, body)``: validate a request body as kube-apiserver's strict
  decoder would; returns (normalized object, unknown field paths) or raises
  a 400 StatusError on a JSON type error.
- ``json_schema(key)``: the kind's OpenAPI v3 schema (``$defs`` inside).
- ``components(keys)``: every schema the kinds need, flat, keyed by
  Kubernetes definition name, ready for ``components.schemas``.

Objects stay plain dicts everywhere else; the models are only the shape.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from apimachinery.kinds import KIND_BY_KEY, KINDS
from apimachinery.schemas import codec, openapi


def model_named(dotted: str) -> type[BaseModel]:
    """The pydantic model a kind names (``Kind.schema``: module path, then class)."""
    module, _, name = dotted.rpartition(".")
    model = getattr(importlib.import_module(module), name, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{dotted} is not a pydantic model")
    return model


#: By storage key, in the kinds' order; each kind names its model (apimachinery.kinds.base.Kind.schema).
MODELS: dict[str, type[BaseModel]] = {k.resource.key: model_named(k.schema) for k in KINDS}

__all__ = ["MODELS", "components", "decode", "definition_name", "json_schema"]

definition_name = openapi.definition_name


def decode(key: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Strictly decode ``body`` as the kind stored under ``key``.

    Returns the normalized object (camelCase, nulls and unknown fields
    dropped, Go field order, canonical quantities and timestamps) and the
    unknown field paths as Kubernetes prints them (``spec.ports[0].foo``).
    Raises ``StatusError`` 400 BadRequest on a type error. KeyError for a
    key that is not in MODELS.
    """
    rt = KIND_BY_KEY[key].resource
    return codec.decode(MODELS[key], body, kind=rt.kind, version=rt.version)


@functools.cache
def _schema(key: str) -> dict[str, Any]:
    rt = KIND_BY_KEY[key].resource
    return openapi.model_schema(MODELS[key], group=rt.group, version=rt.version, kind=rt.kind)


def json_schema(key: str) -> dict[str, Any]:
    """The kind's OpenAPI v3 schema; refs point at ``#/components/schemas/<name>``, found in ``$defs``."""
    out: dict[str, Any] = _copy(_schema(key))
    return out


def components(keys: Iterable[str]) -> dict[str, Any]:
    """``components.schemas`` for the kinds: each kind and every struct it uses, by definition name."""
    out: dict[str, Any] = {}
    for key in keys:
        schema = _copy(_schema(key))
        defs = schema.pop("$defs", {})
        out.update(defs)
        out[definition_name(MODELS[key])] = schema
    return out


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node
