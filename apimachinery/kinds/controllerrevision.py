"""apps/v1 ControllerRevision (pkg/registry/apps/controllerrevision); validation in apiserver.admission.controllerrevision.

Why: the StatefulSet (and DaemonSet) controllers keep their history as
ControllerRevisions: an immutable snapshot (``data``, a patch that restores
the workload's template) with a ``revision`` number; ``kubectl rollout
history|undo`` read them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apimachinery.kinds.base import Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_int, as_text, dig, since
from apimachinery.objects import as_list

_D_CONTROLLER = "Controller of the object"
_D_REVISION = "Revision indicates the revision of the state represented by Data."

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Controller", "string", "", _D_CONTROLLER, 0),
    ("Revision", "string", "", _D_REVISION, 0),
    AGE,
)


def controller_name(obj: dict[str, Any]) -> str:
    """The controller ownerReference as ``kind.group/name`` lower-cased (formatResourceName), or ``<none>``."""
    for ref in as_list(dig(obj, "metadata", "ownerReferences")):
        if isinstance(ref, dict) and ref.get("controller") is True:
            api_version = as_text(ref.get("apiVersion"))
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            kind = as_text(ref.get("kind"))
            group_kind = f"{kind}.{group}" if group else kind
            name = as_text(ref.get("name"))
            return f"{group_kind.lower()}/{name}" if group_kind else name
    return "<none>"


def _cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printControllerRevision: NAME, CONTROLLER, REVISION, AGE."""
    return [as_text(dig(obj, "metadata", "name")), controller_name(obj), as_int(obj.get("revision")),
            since(dig(obj, "metadata", "creationTimestamp"), now)]


KIND = Kind(
    ResourceType("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True),
    schema="apimachinery.schemas.controllerrevision.ControllerRevision",
    printer=Printer(_COLUMNS, _cells),
)
