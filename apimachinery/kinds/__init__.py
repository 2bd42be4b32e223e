"""Every kind kubelite serves, one module each; ``KINDS`` is the list the rest derives from.

Why: a kind is added in one place. Each module here declares its ``KIND``
(apimachinery.kinds.base.Kind: ResourceType and strategy flags with the
fields a fieldSelector reads, the name of its pydantic schema model, where
its tagged structs sit, Go zero value, Table printer); apimachinery.resources
indexes them (``RESOURCES``, ``BY_KEY``), apimachinery.patch derives their
strategic-merge tags from the one table of struct tags (kinds.tags), and the
server's registry, apply, tables, discovery and OpenAPI read the rest
(apimachinery.schemas derives ``MODELS`` from the named models). The kind's
server-side admission in apiserver/admission/<kind>.py (``build_admission``).

Order matters: discovery lists resources in this order.
"""

from __future__ import annotations

from apimachinery.kinds import (
    configmap,
    controllerrevision,
    cronjob,
    daemonset,
    deployment,
    endpoints,
    endpointslice,
    event,
    ingress,
    ingressclass,
    ipaddress,
    job,
    lease,
    namespace,
    node,
    persistentvolume,
    persistentvolumeclaim,
    pod,
    poddisruptionbudget,
    portallocation,
    priorityclass,
    replicaset,
    replicationcontroller,
    secret,
    service,
    serviceaccount,
    servicecidr,
    statefulset,
)
from apimachinery.kinds.base import Kind

KINDS: tuple[Kind, ...] = (
    namespace.KIND,
    pod.KIND,
    service.KIND,
    endpoints.KIND,
    node.KIND,
    event.KIND,
    configmap.KIND,
    secret.KIND,
    persistentvolumeclaim.KIND,
    persistentvolume.KIND,
    deployment.KIND,
    replicaset.KIND,
    job.KIND,
    cronjob.KIND,
    statefulset.KIND,
    controllerrevision.KIND,
    daemonset.KIND,
    endpointslice.KIND,
    lease.KIND,
    ipaddress.KIND,
    servicecidr.KIND,
    ingress.KIND,
    ingressclass.KIND,
    poddisruptionbudget.KIND,
    portallocation.KIND,
    serviceaccount.KIND,
    priorityclass.KIND,
    replicationcontroller.KIND,
)

#: By storage key (ResourceType.key): the one lookup the server makes per request.
KIND_BY_KEY: dict[str, Kind] = {k.resource.key: k for k in KINDS}

__all__ = ["KINDS", "KIND_BY_KEY", "Kind"]
