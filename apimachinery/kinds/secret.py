"""core/v1 Secret (pkg/registry/core/secret); validation in apiserver.admission.secret.

The data never leaves the object's own fields: the printer shows the type
and the number of keys, never a value.
"""

from __future__ import annotations

from typing import Any

from apimachinery.kinds.base import Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, name_age
from apimachinery.objects import as_map
from apimachinery.selectors import field_at

_D_TYPE = (
    "Used to facilitate programmatic handling of secret data. "
    "More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"
)
_D_DATA = (
    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The "
    "serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly "
    "non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"
)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printSecret: the type and the number of data keys."""
    return [str(obj.get("type") or ""), len(as_map(obj.get("data")))]


KIND = Kind(
    # SecretToSelectableFields: ObjectMeta's fields and ``type``
    ResourceType("", "v1", "Secret", "secrets", "secret", True, selectable_fields=(("type", field_at("type")),)),
    schema="apimachinery.schemas.secret.Secret",
    printer=Printer((NAME, ("Type", "string", "", _D_TYPE, 0), ("Data", "string", "", _D_DATA, 0), AGE),
                    name_age(_cells)),
)
