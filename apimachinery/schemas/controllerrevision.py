"""apps/v1 ControllerRevision: an immutable snapshot of a workload's state (``data``) and its revision number."""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.base import GoType, Int64, Object
from apimachinery.schemas.meta import TopLevel


class ControllerRevision(TopLevel):
    go_package: ClassVar[str] = "io.k8s.api.apps.v1"

    data: Annotated[Object, GoType("runtime.RawExtension")] | None = None
    revision: Int64 | None = None
