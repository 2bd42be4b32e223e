"""core/v1 ConfigMap: configuration data for pods, as strings (data) and bytes (binaryData)."""

from __future__ import annotations

from apimachinery.schemas.base import Bytes, StringMap
from apimachinery.schemas.meta import TopLevel


class ConfigMap(TopLevel):
    immutable: bool | None = None
    data: StringMap | None = None
    binary_data: dict[str, Bytes] | None = None
