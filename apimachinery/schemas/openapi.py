"""OpenAPI v3 schemas of the kinds, named and shaped like kube-apiserver's.

Why: kubectl finds a kind's schema in ``/openapi/v3`` by the
``x-kubernetes-group-version-kind`` extension and follows ``$ref``s into
``#/components/schemas/io.k8s.api.core.v1.PodSpec`` style names. Pydantic's
generator is kept but told: Go names for definitions, no ``null`` branches
or ``default: null`` (absent means unset in Kubernetes), no titles.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import CoreModeRef, DefsRef, GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from apimachinery.schemas.base import Schema, built

REF_TEMPLATE = "#/components/schemas/{model}"


def definition_name(model: type[BaseModel]) -> str:
    """``io.k8s.api.core.v1.Pod``: the component name Kubernetes uses for a struct."""
    if issubclass(model, Schema):
        return f"{model.go_package}.{model.go_struct()}"
    return model.__name__


class KubernetesJsonSchema(GenerateJsonSchema):
    """GenerateJsonSchema with Kubernetes' naming and without pydantic's nullability noise."""

    def get_defs_ref(self, core_mode_ref: CoreModeRef) -> DefsRef:
        core_ref = core_mode_ref[0]
        qualified = core_ref.rsplit(":", 1)[0]
        module_name, _, qualname = qualified.rpartition(".")
        cls = getattr(sys.modules.get(module_name), qualname, None)
        if isinstance(cls, type) and issubclass(cls, Schema):
            name = DefsRef(definition_name(cls))
            self._prioritized_defsref_choices[name] = [name]
            return name
        return super().get_defs_ref(core_mode_ref)

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def union_schema(self, schema: core_schema.UnionSchema) -> JsonSchemaValue:
        choices = [c[0] if isinstance(c, tuple) else c for c in schema["choices"]]
        real = [c for c in choices if c.get("type") != "none"]
        if len(real) == 1:
            return self.generate_inner(real[0])
        return super().union_schema(schema)


def _clean(node: Any) -> Any:
    """Drop pydantic's ``title`` keys and ``additionalProperties: false`` (Kubernetes prints neither)."""
    if isinstance(node, dict):
        return {
            k: _clean(v)
            for k, v in node.items()
            if k != "title" and not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def model_schema(model: type[BaseModel], *, group: str, version: str, kind: str) -> dict[str, Any]:
    """The kind's schema; ``$defs`` holds every struct it references, by Kubernetes name."""
    raw = built(model).model_json_schema(by_alias=True, ref_template=REF_TEMPLATE, schema_generator=KubernetesJsonSchema)
    out: dict[str, Any] = _clean(raw)
    out["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    return out
