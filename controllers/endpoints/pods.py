"""Which Pods a Service's endpoints list, and how: kube-controller-manager's rules for membership,
named target ports, hostnames and target references (pkg/controller/endpoint, endpointslice util)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apimachinery.labels import (
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
)
from apimachinery.objects import annotations_of, as_list, as_map, as_str, meta_of
from apimachinery.pods import is_pod_terminal, protocol_of
from apimachinery.selectors import selector_from_set

Obj = dict[str, Any]

MANAGED_BY = "endpointslice-controller.k8s.io"
TRUNCATED = "truncated"
MAX_ENDPOINTS_CAPACITY = 1000
MAX_ENDPOINTS_PER_SLICE = 100
CLUSTER_IP_NONE = "None"
RESERVED_SLICE_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})
NO_PORT = ("", -1, "", "")  # RepackSubsets' sentinel for addresses of a headless Service without ports


# ---------------------------------------------------------------------------
# small accessors (objects are plain JSON dicts; any field may be missing)
# ---------------------------------------------------------------------------


def set_annotation(obj: dict[str, Any], key: str, value: str | None) -> None:
    """Set ``key`` to ``value`` in ``obj``'s annotations, or remove it for a falsy value; an
    object left with no annotations carries no ``metadata.annotations`` at all (as the API stores it)."""
    meta = obj.setdefault("metadata", {})
    annotations = annotations_of(obj)
    if value:
        annotations[key] = value
    else:
        annotations.pop(key, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)


def spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return as_map(obj.get("spec"))


def status_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return as_map(obj.get("status"))


# ---------------------------------------------------------------------------
# Pod and Service predicates (endpointslice/util, api/v1/pod)
# ---------------------------------------------------------------------------


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return meta_of(pod).get("deletionTimestamp") is not None


def is_ipv6(ip: str) -> bool:
    return ":" in ip


def should_pod_be_in_endpoints(pod: Mapping[str, Any], *, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: has an IP, not terminal, terminating only if asked."""
    if is_pod_terminal(pod):
        return False
    status = status_of(pod)
    if not status.get("podIP") and not as_list(status.get("podIPs")):
        return False
    return include_terminating or not is_terminating(pod)


def should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    spec = spec_of(pod)
    return (bool(as_str(spec.get("hostname")))
            and spec.get("subdomain") == meta_of(service).get("name")
            and meta_of(service).get("namespace") == meta_of(pod).get("namespace"))


def is_service_ip_set(service: Mapping[str, Any]) -> bool:
    cip = as_str(spec_of(service).get("clusterIP"))
    return cip not in ("", CLUSTER_IP_NONE)


def is_managed(service: Mapping[str, Any]) -> bool:
    """Services of type ExternalName and Services without a selector get nothing from this controller.

    An empty selector is the same as none: it does not survive the API's
    round trip (omitempty), so Kubernetes never sees one either.
    """
    spec = spec_of(service)
    return spec.get("type") != "ExternalName" and bool(as_map(spec.get("selector")))


def selects(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The Pod is in the Service's namespace and matches its (non-empty) selector."""
    selector = as_map(spec_of(service).get("selector"))
    if not selector or meta_of(pod).get("namespace") != meta_of(service).get("namespace"):
        return False
    return selector_from_set({str(k): as_str(v) for k, v in selector.items()}).matches(as_map(meta_of(pod).get("labels")))


def port_tuple(port: Mapping[str, Any]) -> tuple[str, int, str, str]:
    """A hashable, sortable identity of an Endpoints/EndpointSlice port."""
    number = port.get("port")
    return (as_str(port.get("name")), number if isinstance(number, int) else 0, protocol_of(port.get("protocol")),
            as_str(port.get("appProtocol")))


def target_ref(pod: Mapping[str, Any]) -> Obj:
    meta = meta_of(pod)
    ref: Obj = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name", "")}
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def pod_sort_key(pod: Mapping[str, Any]) -> tuple[str, str]:
    return (as_str(meta_of(pod).get("namespace")), as_str(meta_of(pod).get("name")))
