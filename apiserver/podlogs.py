"""``GET .../pods/{name}/log``: the container's log, proxied from the kubelet of the Pod's node.

Why a proxy (pkg/registry/core/pod/rest/log.go): logs live on the node; the
API server validates the PodLogOptions, picks the container, finds the
node's kubelet (its InternalIP and ``daemonEndpoints.kubeletEndpoint.Port``)
and streams ``/containerLogs/{ns}/{pod}/{container}`` back. A kubelet
failure becomes a Status with the kubelet's message (kubectl prints
``Error from server (BadRequest): container "x" in pod "y" is waiting to
start: ...``).

Safety (docs/architecture.md, "Networking safety"): the kubelet address must
be a loopback address; kubelite never connects anywhere else, so a Node whose
address is data (10.x) answers a clear error instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from fastapi.responses import Response, StreamingResponse

from apimachinery import errors
from apimachinery.errors import StatusError
from apimachinery.objects import as_list, as_map
from apimachinery.resources import BY_KEY

PODS = BY_KEY["pods"]
NODES = BY_KEY["nodes"]
TEXT = "text/plain"
_INT_PARAMS = ("tailLines", "limitBytes", "sinceSeconds")
_BOOL_PARAMS = ("follow", "previous", "timestamps", "insecureSkipTLSVerifyBackend")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def log_options(query: Mapping[str, str], name: str) -> dict[str, Any]:
    """PodLogOptions from the query, validated as ValidatePodLogOptions does (422 on a bad value)."""
    opts: dict[str, Any] = {"container": query.get("container") or ""}
    for key in _INT_PARAMS:
        raw = query.get(key)
        if raw not in (None, ""):
            try:
                opts[key] = int(str(raw))
            except ValueError:
                raise errors.bad_request(f'invalid value "{raw}" for query parameter {key}: must be an integer') from None
    for key in _BOOL_PARAMS:
        raw = query.get(key)
        if raw in (None, ""):
            opts[key] = False
        elif raw in _TRUE:
            opts[key] = True
        elif raw in _FALSE:
            opts[key] = False
        else:
            raise errors.bad_request(f'invalid boolean value "{raw}" for query parameter {key}')
    if query.get("sinceTime"):
        opts["sinceTime"] = query["sinceTime"]
    errs: list[errors.FieldError] = []
    if opts.get("tailLines") is not None and opts["tailLines"] < 0:
        errs.append(errors.invalid("tailLines", opts["tailLines"], "must be greater than or equal to 0"))
    if opts.get("limitBytes") is not None and opts["limitBytes"] < 1:
        errs.append(errors.invalid("limitBytes", opts["limitBytes"], "must be greater than 0"))
    if opts.get("sinceSeconds") is not None and opts.get("sinceTime"):
        errs.append(errors.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif opts.get("sinceSeconds") is not None and opts["sinceSeconds"] < 1:
        errs.append(errors.invalid("sinceSeconds", opts["sinceSeconds"], "must be greater than 0"))
    if errs:
        raise errors.invalid_object("PodLogOptions", name, errs)
    return opts


def container_names(pod: Mapping[str, Any]) -> list[str]:
    """podutil.VisitContainers order: init containers, containers, ephemeral containers."""
    spec = as_map(pod.get("spec"))
    return [str(as_map(c).get("name")) for key in ("initContainers", "containers", "ephemeralContainers")
            for c in as_list(spec.get(key))]


def pick_container(pod: Mapping[str, Any], wanted: str) -> str:
    """validateContainer: the named one, else the only one; the kubelet's messages otherwise."""
    name = str(as_map(pod.get("metadata")).get("name") or "")
    if wanted:
        if wanted not in container_names(pod):
            raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
        return wanted
    containers = as_list(as_map(pod.get("spec")).get("containers"))
    if len(containers) == 1:
        return str(as_map(containers[0]).get("name"))
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    listed = " ".join(container_names(pod))
    raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: [{listed}]")


def kubelet_address(node: Mapping[str, Any]) -> tuple[str, int]:
    """The node's InternalIP and kubelet port; only loopback addresses are ever used."""
    status = as_map(node.get("status"))
    name = str(as_map(node.get("metadata")).get("name") or "")
    addresses = {str(as_map(a).get("type")): str(as_map(a).get("address")) for a in as_list(status.get("addresses"))}
    host = addresses.get("InternalIP") or addresses.get("Hostname") or ""
    port = as_map(as_map(status.get("daemonEndpoints")).get("kubeletEndpoint")).get("Port") or 10250
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise errors.internal(f'node "{name}" has kubelet address {host or "<none>"}: kubelite only connects to '
                              "kubelets on loopback addresses")
    return host, int(port)


def _status_from_kubelet(code: int, body: str) -> StatusError:
    """NewGenericServerResponse for a kubelet reply (its text is the message)."""
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
    text = body.strip()
    if code in reasons:
        return StatusError(code, reasons[code], text or "the server rejected our request for an unknown reason")
    return StatusError(500, "InternalError", text or f"the kubelet answered {code}")


async def stream_log(pod: Mapping[str, Any], node: Mapping[str, Any] | None, opts: Mapping[str, Any]) -> Response:
    """Forward the request to the kubelet; a 200 streams through, anything else is a Status."""
    meta = as_map(pod.get("metadata"))
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    container = pick_container(pod, str(opts.get("container") or ""))
    node_name = str(as_map(pod.get("spec")).get("nodeName") or "")
    if not node_name:
        return Response(b"", media_type=TEXT)  # not scheduled yet: an empty log, as kube-apiserver answers
    if node is None:
        raise errors.not_found("nodes", node_name)
    host, port = kubelet_address(node)
    params = {k: ("true" if v is True else str(v)) for k, v in opts.items()
              if k not in ("container", "insecureSkipTLSVerifyBackend") and v not in (None, False, "")}
    url = f"http://{host}:{port}/containerLogs/{namespace}/{name}/{container}"
    timeout = httpx.Timeout(10.0, read=None if opts.get("follow") else 60.0)
    client = httpx.AsyncClient(timeout=timeout)
    try:
        resp = await client.send(client.build_request("GET", url, params=params), stream=True)
    except httpx.HTTPError as e:
        await client.aclose()
        raise errors.internal(f'Get "{url}": {e}') from None
    if resp.status_code != 200:
        body = (await resp.aread()).decode(errors="replace")
        await resp.aclose()
        await client.aclose()
        raise _status_from_kubelet(resp.status_code, body)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.aiter_raw():
                yield chunk
        except httpx.HTTPError:
            return
        finally:
            await resp.aclose()
            await client.aclose()

    return StreamingResponse(relay(), media_type=TEXT)
