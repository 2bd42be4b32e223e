"""``kctl expose pod|service NAME --port``: a Service selecting what the pod or service selects.

As kubectl's expose.go: the selector is the pod's labels (or the service's
selector), the new Service's labels are the exposed object's labels, ports
come from ``--port``/``--target-port``/``--protocol`` or else from the
object's own ports (named ``port-1``, ``port-2``... when several); output
``service/<name> exposed``.
"""

from __future__ import annotations

from typing import Any

import click

from kubeclient.kctl.failures import fail
from kubeclient.kctl.options import STR, connection_options, echo, run
from kubeclient.kctl.session import Session


def exposed_service(obj: dict[str, Any], *, name: str | None, port: str | None, target_port: str | None,
                    protocol: str, svc_type: str | None, port_name: str | None,
                    labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The Service kubectl's ServiceGeneratorV2 builds for ``obj``."""
    meta = obj.get("metadata") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        selector = dict(meta.get("labels") or {})
        if not selector:
            raise fail("the pod has no labels and cannot be exposed")
        own_ports = [int(p["containerPort"]) for c in (obj.get("spec") or {}).get("containers") or []
                     for p in c.get("ports") or [] if p.get("containerPort")]
    else:
        selector = dict((obj.get("spec") or {}).get("selector") or {})
        if not selector:
            raise fail("couldn't retrieve selectors via --selector flag or introspection: the service has no "
                       "pod selector set")
        own_ports = [int(p["port"]) for p in (obj.get("spec") or {}).get("ports") or []]
    ports_list = [int(p) for p in port.split(",")] if port else own_ports
    if not ports_list:
        raise fail("couldn't find port via --port flag or introspection")
    ports: list[dict[str, Any]] = []
    for i, p in enumerate(ports_list):
        sp: dict[str, Any] = {"port": p, "protocol": protocol}
        if len(ports_list) > 1:
            sp["name"] = f"port-{i + 1}"
        elif port_name:
            sp["name"] = port_name
        if target_port:
            sp["targetPort"] = int(target_port) if target_port.isdigit() else target_port
        else:
            sp["targetPort"] = p
        ports.append(sp)
    spec: dict[str, Any] = {"ports": ports, "selector": selector}
    if svc_type:
        spec["type"] = svc_type
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"labels": labels if labels is not None else dict(meta.get("labels") or {}),
                         "name": name or meta.get("name")},
            "spec": spec}


@click.command("expose")
@click.argument("args", nargs=-1, required=True)
@click.option("--port", type=STR, default=None, help="The port that the service should serve on.")
@click.option("--target-port", type=STR, default=None, help="Name or number of the port the service directs to.")
@click.option("--protocol", type=STR, default="TCP", help="The network protocol for the service.")
@click.option("--name", type=STR, default=None, help="The name for the newly created object.")
@click.option("--type", "svc_type", type=STR, default=None, help="ClusterIP, NodePort, LoadBalancer or ExternalName.")
@click.option("--port-name", type=STR, default=None, help="Name of the port (single port only).")
@connection_options
def expose_cmd(args: tuple[str, ...], port: str | None, target_port: str | None, protocol: str,
               name: str | None, svc_type: str | None, port_name: str | None) -> None:
    """Expose a pod or service as a new Kubernetes service."""
    if len(args) == 1 and "/" in args[0]:
        type_name, _, obj_name = args[0].partition("/")
    elif len(args) == 2:
        type_name, obj_name = args
    else:
        raise fail("You must provide the resource type and name: pod|service NAME")

    async def body(s: Session) -> None:
        await s.discover()
        rt = s.resolve(type_name)
        if (rt.group, rt.kind) not in (("", "Pod"), ("", "Service")):
            raise fail(f"cannot expose a {rt.kind}")
        obj = await s.api.get(rt, obj_name, namespace=s.namespace)
        obj.setdefault("kind", rt.kind)
        svc = exposed_service(obj, name=name, port=port, target_port=target_port, protocol=protocol,
                              svc_type=svc_type, port_name=port_name)
        svc_rt = s.resolve("services")
        created = await s.api.create(svc_rt, svc, namespace=s.namespace, field_manager="kubectl-expose")
        echo(f"service/{(created.get('metadata') or {}).get('name')} exposed\n")

    run(body)
