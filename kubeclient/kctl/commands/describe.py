"""``kctl describe TYPE [NAME_PREFIX] | TYPE/NAME``: the describe pages, separated by a blank line.

Follows kubectl's describe.go: a single name that is not found falls back to
every object whose name starts with it; Services read their EndpointSlices
by ``kubernetes.io/service-name`` (kubectl 1.32 does not read Endpoints);
events are found by involvedObject name/namespace/kind/uid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from apimachinery.errors import StatusError
from kubeclient import errors
from kubeclient.kctl import describers
from kubeclient.kctl.failures import KctlError, Problems, fail
from kubeclient.kctl.options import STR, connection_options, echo, echo_err, run
from kubeclient.kctl.session import Session

Describer = Callable[[dict[str, Any], list[dict[str, Any]] | None, datetime], str]

_PAGES: dict[tuple[str, str], Describer] = {
    ("", "Pod"): describers.describe_pod,
    ("", "Endpoints"): describers.describe_endpoints,
    ("", "Namespace"): describers.describe_namespace,
    ("discovery.k8s.io", "EndpointSlice"): describers.describe_endpoint_slice,
}


async def _events(s: Session, obj: dict[str, Any], *, with_kind: bool) -> list[dict[str, Any]] | None:
    meta = obj.get("metadata") or {}
    terms = [f"involvedObject.name={meta.get('name', '')}", f"involvedObject.namespace={meta.get('namespace', '')}"]
    if with_kind:
        terms.append(f"involvedObject.kind={obj.get('kind', '')}")
    if meta.get("uid"):
        terms.append(f"involvedObject.uid={meta['uid']}")
    try:
        ev_rt = s.resolve("events")
        lst = await s.list_all(ev_rt, namespace=meta.get("namespace") or None, field_selector=",".join(terms))
    except (StatusError, errors.ClientError, KctlError):
        return []
    return list(lst.get("items") or [])


async def describe_object(s: Session, obj: dict[str, Any], *, show_events: bool) -> str:
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    kind = str(obj.get("kind") or "")
    now = datetime.now(UTC)
    if (group, kind) == ("", "Service"):
        meta = obj.get("metadata") or {}
        slices: list[dict[str, Any]] = []
        try:
            eps_rt = s.resolve("endpointslices.discovery.k8s.io")
            lst = await s.list_all(eps_rt, namespace=meta.get("namespace"),
                                   label_selector=f"kubernetes.io/service-name={meta.get('name', '')}")
            slices = list(lst.get("items") or [])
        except (StatusError, errors.ClientError, KctlError):
            slices = []
        events = await _events(s, obj, with_kind=True) if show_events else None
        return describers.describe_service(obj, slices, events, now)
    if (group, kind) == ("", "Node"):
        return await _describe_node(s, obj, show_events=show_events, now=now)
    page = _PAGES.get((group, kind), describers.describe_generic)
    events = await _events(s, obj, with_kind=kind != "Pod") if show_events else None
    return page(obj, events, now)


async def _describe_node(s: Session, node: dict[str, Any], *, show_events: bool, now: datetime) -> str:
    name = str((node.get("metadata") or {}).get("name") or "")
    pods: list[dict[str, Any]] | None
    try:
        lst = await s.list_all(s.resolve("pods"), namespace=None,
                               field_selector=f"spec.nodeName={name},status.phase!=Succeeded,status.phase!=Failed")
        pods = list(lst.get("items") or [])
    except errors.Forbidden:
        pods = None
    lease: dict[str, Any] | None = None
    lease_error: str | None = None
    try:
        lease = await s.api.get(s.resolve("leases.coordination.k8s.io"), name, namespace="kube-node-lease")
    except (StatusError, KctlError) as e:
        lease_error = str(e)
    events = None
    if show_events:
        events = (await _events(s, node, with_kind=True) or []) + (
            await _events(s, {**node, "metadata": {**(node.get("metadata") or {}), "uid": name}}, with_kind=True)
            or [])
    return describers.describe_node(node, pods, lease, lease_error, events, now)


@click.command("describe")
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", type=STR, default=None, help="Selector (label query) to filter on.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces.")
@click.option("--show-events/--no-show-events", default=True, help="Display events related to the object.")
@connection_options
def describe_cmd(args: tuple[str, ...], selector: str | None, all_namespaces: bool, show_events: bool) -> None:
    """Show details of a specific resource or group of resources."""
    if not args:
        raise fail("You must specify the type of resource to describe. Use \"kctl api-resources\" for a complete "
                   "list of supported resources.")

    async def body(s: Session) -> None:
        from kubeclient.kctl.targets import parse_targets

        await s.discover()
        targets = parse_targets(s, args, verb="describe")
        objs: list[dict[str, Any]] = []
        errs = Problems()
        for tgt in targets.groups:
            ns = s.ns_for(tgt.rt, all_namespaces=all_namespaces)
            if tgt.names is None:
                lst = await s.list_all(tgt.rt, namespace=ns, label_selector=selector)
                objs.extend(_typed(o, tgt.rt.api_version, tgt.rt.kind) for o in lst["items"])
                continue
            for name in tgt.names:
                try:
                    objs.append(await s.api.get(tgt.rt, name, namespace=s.ns_for(tgt.rt)))
                except errors.NotFound as e:
                    if len(tgt.names) == 1 and "/" not in args[0]:
                        lst = await s.list_all(tgt.rt, namespace=s.ns_for(tgt.rt), label_selector=selector)
                        matched = [o for o in lst["items"]
                                   if str((o.get("metadata") or {}).get("name", "")).startswith(name)]
                        if matched:  # DescribeMatchingResources: each page then a newline
                            for o in matched:
                                page = await describe_object(s, _typed(o, tgt.rt.api_version, tgt.rt.kind),
                                                             show_events=show_events)
                                echo(page + "\n")
                            return
                    errs.add(e)
        pages = [await describe_object(s, o, show_events=show_events) for o in objs]
        echo("\n\n".join(pages))
        if not objs and not errs:
            namespaced = not all_namespaces and all(t.rt.namespaced for t in targets.groups)
            echo_err(f"No resources found in {s.namespace} namespace.\n" if namespaced else "No resources found\n")
        errs.raise_if_any()

    run(body)


def _typed(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    return obj if obj.get("kind") else {"apiVersion": api_version, "kind": kind, **obj}
