"""networking.k8s.io/v1 IngressClass (pkg/registry/networking/ingressclass), cluster-scoped: which
controller implements the Ingresses naming it; validation in apiserver.admission.ingress."""

from __future__ import annotations

from typing import Any

from apimachinery.kinds.base import Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_text, dig, name_age

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Controller", "string", "", "Controller that is responsible for handling this class", 0),
    ("Parameters", "string", "", "A reference to a resource with additional parameters", 0),
    AGE,
)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printIngressClass: parameters as ``Kind[.apiGroup]/name``."""
    params = dig(obj, "spec", "parameters")
    text = "<none>"
    if isinstance(params, dict):
        text = as_text(params.get("kind"))
        if params.get("apiGroup") is not None:
            text += "." + as_text(params.get("apiGroup"))
        text += "/" + as_text(params.get("name"))
    return [as_text(dig(obj, "spec", "controller")), text]


KIND = Kind(
    ResourceType("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", False),
    schema="apimachinery.schemas.ingress.IngressClass",
    printer=Printer(_COLUMNS, name_age(_cells)),
)
