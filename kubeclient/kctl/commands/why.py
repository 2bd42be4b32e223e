"""``kctl why svc/NAME`` and ``kctl why pod/NAME``: the reasons behind a Service's endpoints, or a Pod's traffic.

Why a command of its own: "why does my Service have no endpoints?" needs selectors, labels,
readiness, ports and the controllers' health read side by side. This command only gathers that
state through the API (what the user may read: a list it is refused is left out, and the rules
that need it stay silent) and prints ``apimachinery.diagnosis``'s findings, which decide everything.
It reads no proxy's rules (a client cannot see a node's data path; ``kubelite proxy --show-rules``
prints them), so the diagnosis's ProxyRules finding is left to callers that know a proxy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from apimachinery.diagnosis import ClusterState, Finding, diagnose_pod, diagnose_service
from apimachinery.leases import LEASE_NAMESPACE
from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.kctl.encoding import go_json, go_yaml
from kubeclient.kctl.failures import fail
from kubeclient.kctl.options import STR, connection_options, echo, run
from kubeclient.kctl.session import Session


def render_text(findings: list[Finding]) -> str:
    """Short lines: ``Error: message [Reason]``, then the fix indented; multi-line messages indented too."""
    out = []
    for f in findings:
        first, *rest = f.message.split("\n")
        out.append(f"{f.severity}: {first} [{f.reason}]\n")
        out.extend(f"    {line}\n" for line in rest)
        if f.fix:
            out.append(f"  fix: {f.fix}\n")
    return "".join(out)


def report(kind: str, obj: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    """The ``-o json|yaml`` document: the object asked about and the findings as data."""
    meta = obj.get("metadata") or {}
    return {"object": {"apiVersion": "v1", "kind": kind, "namespace": meta.get("namespace", ""),
                       "name": meta.get("name", "")},
            "findings": [f.as_dict() for f in findings]}


async def _items(s: Session, plural: str, *, namespace: str | None) -> list[dict[str, Any]] | None:
    """Every object of a type the server serves and the user may list; None when it cannot be read."""
    rt = s.match(plural)
    if rt is None:
        return None
    try:
        return list((await s.list_all(rt, namespace=namespace if rt.namespaced else None))["items"])
    except (errors.Forbidden, errors.NotFound):
        return None


async def _pods_everywhere(s: Session, ns: str) -> list[dict[str, Any]]:
    pods = await _items(s, "pods", namespace=None)  # Pods that match in other namespaces are a finding
    if pods is None:
        pods = await _items(s, "pods", namespace=ns) or []
    return pods


async def gather(s: Session, ns: str) -> ClusterState:
    """The API state the diagnosis reads, for one namespace (Pods from every namespace readable)."""
    return ClusterState(
        now=datetime.now(UTC),
        services=await _items(s, "services", namespace=ns) or [],
        pods=await _pods_everywhere(s, ns),
        endpoints=await _items(s, "endpoints", namespace=ns) or [],
        endpoint_slices=await _items(s, "endpointslices.discovery.k8s.io", namespace=ns) or [],
        nodes=await _items(s, "nodes", namespace=None) or [],
        leases=await _items(s, "leases.coordination.k8s.io", namespace=LEASE_NAMESPACE),
        events=await _items(s, "events", namespace=ns) or [],
    )


def _target(args: tuple[str, ...]) -> tuple[str, str]:
    if len(args) == 1 and "/" in args[0]:
        type_name, _, name = args[0].partition("/")
    elif len(args) == 2 and "/" not in args[0]:
        type_name, name = args
    else:
        raise fail("expected one object: svc/NAME or pod/NAME")
    if not name:
        raise fail("arguments in resource/name form must have a single resource and name")
    return type_name, name


@click.command("why")
@click.argument("args", nargs=-1, required=True)
@click.option("-o", "--output", type=STR, default=None, help="json|yaml: the findings as data.")
@connection_options
def why_cmd(args: tuple[str, ...], output: str | None) -> None:
    """Explain a Service's endpoints (svc/NAME) or a Pod's traffic (pod/NAME), most likely cause first."""
    if output not in (None, "", "json", "yaml"):
        raise fail(f"unable to match a printer suitable for the output format \"{output}\", allowed formats are: "
                   "json,yaml")
    type_name, name = _target(args)

    async def body(s: Session) -> None:
        await s.discover()
        rt: ResourceType = s.resolve(type_name)
        if rt.group != "" or rt.kind not in ("Service", "Pod"):
            raise fail(f"why explains services and pods, not {rt.plural}")
        obj = await s.api.get(rt, name, namespace=s.namespace)
        state = await gather(s, s.namespace)
        findings = diagnose_service(obj, state) if rt.kind == "Service" else diagnose_pod(obj, state)
        if output == "json":
            echo(go_json(report(rt.kind, obj, findings)) + "\n")
        elif output == "yaml":
            echo(go_yaml(report(rt.kind, obj, findings)))
        elif findings:
            echo(render_text(findings))
        else:
            echo(f"nothing to report about {rt.kind.lower()}/{name}\n")

    run(body)
