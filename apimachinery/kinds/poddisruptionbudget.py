"""policy/v1 PodDisruptionBudget (pkg/registry/policy/poddisruptionbudget); validation in
apiserver.admission.poddisruptionbudget, status by controllers.disruption, spent by the pods/eviction
subresource (apiserver.eviction). Rules both sides share: apimachinery.disruption."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import OBJECT_META, Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_text, dig, name_age
from apimachinery.kinds.tags import POLICY
from apimachinery.objects import int_or

_COLUMNS: tuple[Column, ...] = (
    NAME,
    ("Min Available", "string", "", "The minimum number of pods that must be available.", 0),
    ("Max Unavailable", "string", "", "The maximum number of pods that may be unavailable.", 0),
    ("Allowed Disruptions", "integer", "", "Calculated number of pods that may be disrupted at this time.", 0),
    AGE,
)


def _int_or_string(value: Any) -> str:
    """IntOrString.String(), ``N/A`` when unset."""
    if value is None:
        return "N/A"
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else as_text(value)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printPodDisruptionBudget."""
    spec = obj.get("spec") or {}
    return [_int_or_string(spec.get("minAvailable")), _int_or_string(spec.get("maxUnavailable")),
            int_or(dig(obj, "status", "disruptionsAllowed"))]


KIND = Kind(
    ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", True,
                 ("pdb",), (), ("status",)),
    schema="apimachinery.schemas.policy.PodDisruptionBudget",
    structs=MappingProxyType({"metadata": OBJECT_META, "spec": POLICY + "PodDisruptionBudgetSpec",
                              "status": POLICY + "PodDisruptionBudgetStatus"}),
    zero=MappingProxyType({"status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                      "expectedPods": 0}}),
    printer=Printer(_COLUMNS, name_age(_cells)),
)
