"""The Endpoints and EndpointSlices a Service should have: a pure function of API objects.

Why pure: the controller, its tests and the churn test's final check all need
the same answer to "what should exist now?", and only a function of its
arguments can be checked against the API's state after the fact.

The rules are kube-controller-manager's (pkg/controller/endpoint and
staging/src/k8s.io/endpointslice):

- a Service without a selector, or of type ExternalName, gets nothing from
  this controller (its Endpoints are the user's);
- a Pod takes part when it has an IP and is not terminal (Succeeded or
  Failed); Endpoints leave out terminating Pods (deletionTimestamp set)
  unless ``publishNotReadyAddresses``, EndpointSlices keep them with
  ``serving``/``terminating`` conditions and ``ready`` false;
- a named targetPort is looked up per Pod (containers, then restartable
  init containers, same protocol); a Pod without it is skipped for that port;
  EndpointSlices group Pods by the resulting port set;
- hostname is published when the Pod's hostname is set and its subdomain is
  the Service's name; nodeName, zone (the Node's topology.kubernetes.io/zone
  label) and a targetRef to the Pod are filled in;
- at most ``max_endpoints_per_slice`` (100) endpoints per slice; an empty
  placeholder slice when nothing else would exist; Endpoints hold at most
  1000 addresses (``endpoints.kubernetes.io/over-capacity: truncated``).

Churn: slices are not re-packed from scratch. Given the existing slices, an
endpoint stays in the slice it is in, new endpoints fill slices that change
anyway, then the fullest slice they fit in, and only then a new slice; a
slice left empty is reused for what would otherwise be created (the real
reconciler's algorithm, made deterministic). Objects that need no change are
returned as the very objects passed in, so "write iff different" is exact.

Deliberate differences from Kubernetes, each to avoid a stale or invalid
object: a change of only the reserved labels (the headless-service label,
which flips here when the ClusterIP gets allocated after creation) updates
Endpoints and slices too; an Endpoints subset emptied by truncation is dropped
rather than written invalid; an over-capacity Endpoints whose truncated form
is already stored is not rewritten on every sync.

Layout: ``pods`` (membership and ports), ``endpoints`` (core/v1), ``slices``
(discovery.k8s.io/v1), ``compare`` (what counts as a change); this module puts them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apimachinery.objects import as_str, meta_of
from controllers.endpoints.endpoints import desired_endpoints_object
from controllers.endpoints.pods import MANAGED_BY, MAX_ENDPOINTS_PER_SLICE, Obj, is_managed, selects
from controllers.endpoints.slices import desired_slices


@dataclass
class Desired:
    """The outcome for one Service.

    ``endpoints`` is None when the controller leaves the Service's Endpoints
    alone (no selector, ExternalName). ``slices`` lists every slice that
    should exist afterwards: existing ones (unchanged: the very object passed
    in; changed: a full replacement with the same name) and new ones (no name,
    ``generateName`` set). ``missing_nodes`` names Nodes referenced by Pods but
    absent, whose Pods were left out for now (the caller retries later).
    """

    endpoints: Obj | None
    slices: list[Obj]
    missing_nodes: list[str] = field(default_factory=list)


def _node_map(nodes: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    if isinstance(nodes, Mapping):
        return nodes
    return {as_str(meta_of(n).get("name")): n for n in nodes}


def plan(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    existing_endpoints: Mapping[str, Any] | None = None,
    existing_slices: Iterable[Mapping[str, Any]] = (),
    trigger_time: str | None = None,
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
    controller_name: str = MANAGED_BY,
) -> Desired:
    """Everything the controller should make true for ``service`` (see ``Desired``).

    ``pods`` may be any Pods: those outside the Service's namespace or
    selector are ignored. ``nodes`` maps names to Nodes (or lists them).
    """
    if not is_managed(service):
        return Desired(None, [])
    members: Sequence[Mapping[str, Any]] = [p for p in pods if selects(service, p)]
    endpoints = desired_endpoints_object(service, members, existing=existing_endpoints, trigger_time=trigger_time)
    slices, missing = desired_slices(service, members, _node_map(nodes), existing=existing_slices,
                                     trigger_time=trigger_time, max_endpoints_per_slice=max_endpoints_per_slice,
                                     controller_name=controller_name)
    return Desired(endpoints, slices, missing)


def desired_endpoints(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    existing_endpoints: Mapping[str, Any] | None = None,
    existing_slices: Iterable[Mapping[str, Any]] = (),
    trigger_time: str | None = None,
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> tuple[Obj | None, list[Obj]]:
    """``(Endpoints or None, EndpointSlices)`` the Service should have; see ``plan``."""
    d = plan(service, pods, nodes, existing_endpoints=existing_endpoints, existing_slices=existing_slices,
             trigger_time=trigger_time, max_endpoints_per_slice=max_endpoints_per_slice)
    return d.endpoints, d.slices
