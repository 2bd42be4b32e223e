"""core/v1 ConfigMap (pkg/registry/core/configmap); validation in apiserver.admission.configmap."""

from __future__ import annotations

from typing import Any

from apimachinery.kinds.base import Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, name_age
from apimachinery.objects import as_map

_D_DATA = (
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. "
    "Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not "
    "overlap with the keys in the BinaryData field, this is enforced during validation process."
)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printConfigMap: the number of keys, data and binaryData together."""
    return [len(as_map(obj.get("data"))) + len(as_map(obj.get("binaryData")))]


KIND = Kind(
    ResourceType("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    schema="apimachinery.schemas.configmap.ConfigMap",
    printer=Printer((NAME, ("Data", "string", "", _D_DATA, 0), AGE), name_age(_cells)),
)
