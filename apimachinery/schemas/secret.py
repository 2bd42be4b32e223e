"""core/v1 Secret: data as Go []byte (base64 in JSON), stringData a write-only string overlay."""

from __future__ import annotations

from apimachinery.schemas.base import Bytes, String, StringMap
from apimachinery.schemas.meta import TopLevel


class Secret(TopLevel):
    immutable: bool | None = None
    data: dict[str, Bytes] | None = None
    string_data: StringMap | None = None
    type: String | None = None
