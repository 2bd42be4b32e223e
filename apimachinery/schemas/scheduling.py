"""scheduling.k8s.io/v1 PriorityClass: a named Pod priority."""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.base import GoType, Int32
from apimachinery.schemas.meta import TopLevel


class PriorityClass(TopLevel):
    go_package: ClassVar[str] = "io.k8s.api.scheduling.v1"

    value: Int32 | None = None
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: Annotated[str, GoType("v1.PreemptionPolicy")] | None = None
