"""scheduling.k8s.io/v1 PriorityClass (pkg/registry/scheduling/priorityclass); validation and the Pod
Priority plugin in apiserver.admission.priorityclass, the system classes made at bootstrap."""

from __future__ import annotations

from typing import Any

from apimachinery.kinds.base import Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_int, as_text, dig, name_age

#: HighestUserDefinablePriority: a class not named ``system-...`` may not be valued above it.
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
#: SystemCriticalPriority: system-cluster-critical's value; system-node-critical's is 1000 above.
SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY
SYSTEM_PRIORITY_CLASS_PREFIX = "system-"
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
PREEMPTION_POLICIES = (PREEMPT_LOWER_PRIORITY, "Never")

#: The classes every cluster has (SystemPriorityClasses): name -> (value, description); not global defaults.
SYSTEM_PRIORITY_CLASSES: dict[str, tuple[int, str]] = {
    "system-node-critical": (SYSTEM_CRITICAL_PRIORITY + 1000,
                             "Used for system critical pods that must not be moved from their current node."),
    "system-cluster-critical": (SYSTEM_CRITICAL_PRIORITY,
                                "Used for system critical pods that must run in the cluster, but can be moved "
                                "to another node if necessary."),
}

_D_VALUE = (
    "value represents the integer value of this priority class. This is the actual priority that pods receive "
    "when they have the name of this class in their pod spec."
)
_D_GLOBAL_DEFAULT = (
    "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods "
    "that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if "
    "more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of "
    "such global default PriorityClasses will be used as the default priority."
)
_D_PREEMPTION_POLICY = (
    "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, "
    "PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."
)


def _cells(obj: dict[str, Any]) -> list[Any]:
    """printPriorityClass: value, globalDefault (AGE comes next, then the preemption policy)."""
    return [as_int(obj.get("value")), obj.get("globalDefault") is True]


def _row(obj: dict[str, Any], now: Any) -> list[Any]:
    return [*name_age(_cells)(obj, now), as_text(dig(obj, "preemptionPolicy"))]


KIND = Kind(
    ResourceType("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", False, ("pc",)),
    schema="apimachinery.schemas.scheduling.PriorityClass",
    printer=Printer((NAME, ("Value", "integer", "", _D_VALUE, 0),
                     ("Global-Default", "boolean", "", _D_GLOBAL_DEFAULT, 0), AGE,
                     ("PreemptionPolicy", "string", "", _D_PREEMPTION_POLICY, 0)), _row),
)
