"""``kctl env pod/NAME``: the environment the kubelet would give the Pod's containers.

What it prints: for each container (``-c`` picks one), its variables in
the kubelet's order: ``envFrom``, then ``env`` (ConfigMap and Secret
references resolved, the downward API, resourceFieldRef), then the Service
variables ({NAME}_SERVICE_HOST/_PORT...). A Pod with several containers gets
a ``# container NAME`` line before each. Secret values are never printed:
a variable read from a Secret shows ``<secret NAME key KEY>`` instead. A
reference the kubelet could not resolve prints as a ``# container NAME:``
line with the kubelet's message (the container would wait in
CreateContainerConfigError).
"""

from __future__ import annotations

from typing import Any

import click

from apimachinery import podsources
from apimachinery.containerenv import ConfigError, container_env
from apimachinery.resources import BY_KEY, ResourceType
from kubeclient import errors
from kubeclient.kctl.failures import fail
from kubeclient.kctl.options import STR, connection_options, echo, run
from kubeclient.kctl.session import Session

SECRETS = BY_KEY.get("secrets") or ResourceType("", "v1", "Secret", "secrets", "secret", True)


def _masked(source: podsources.Source) -> podsources.Source:
    """A Secret with every value replaced by where it comes from."""
    if source.kind != podsources.SECRET:
        return source
    return podsources.Source(source.kind, source.namespace, source.name,
                             strings={k: f"<secret {source.name} key {k}>" for k in source.strings})


@click.command("env")
@click.argument("args", nargs=-1, required=True)
@click.option("-c", "--container", type=STR, default="", help="Print the environment of this container only.")
@connection_options
def env_cmd(args: tuple[str, ...], container: str) -> None:
    """Print the variables a kubelet gives pod/NAME's containers (ConfigMaps, Secrets masked, downward API,
    Services), one NAME=value a line."""
    if len(args) == 1 and "/" in args[0]:
        type_name, _, name = args[0].partition("/")
    elif len(args) == 2:
        type_name, name = args
    elif len(args) == 1:
        type_name, name = "pods", args[0]
    else:
        raise fail("expected pod/NAME")

    async def body(s: Session) -> None:
        await s.discover()
        rt = s.resolve(type_name)
        if (rt.group, rt.kind) != ("", "Pod"):
            raise fail(f"env works on pods, not {rt.plural}")
        pod = await s.api.get(rt, name, namespace=s.namespace)
        svc_rt = s.resolve("services")
        cm_rt = s.resolve("configmaps")
        ns = str((pod.get("metadata") or {}).get("namespace") or s.namespace)
        services: list[dict[str, Any]] = list((await s.list_all(svc_rt, namespace=ns))["items"])
        try:
            services.append(await s.api.get(svc_rt, "kubernetes", namespace="default"))
        except errors.NotFound:
            pass
        for svc in services:
            svc.setdefault("metadata", {}).setdefault("namespace", ns)
        sources: dict[tuple[str, str], podsources.Source] = {}
        for kind, ref in sorted(podsources.references(pod)):
            try:
                obj = await s.api.get(cm_rt if kind == podsources.CONFIGMAP else SECRETS, ref, namespace=ns)
            except errors.NotFound:
                continue
            sources[(kind, ref)] = _masked(podsources.source_of(kind, obj))
        status = pod.get("status") or {}
        spec = pod.get("spec") or {}
        containers = [c for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
                      if not container or c.get("name") == container]
        if not containers:
            raise fail(f'container {container} is not valid for pod {name}')
        out: list[str] = []
        for c in containers:
            cname = str(c.get("name") or "")
            try:
                env = container_env(pod, c, services=services, pod_ip=str(status.get("podIP") or ""),
                                    host_ip=str(status.get("hostIP") or ""), sources=sources)
            except ConfigError as e:
                out.append(f"# container {cname}: {e}\n")
                continue
            if len(containers) > 1:
                out.append(f"# container {cname}\n")
            out += [f"{k}={v}\n" for k, v in env]
        echo("".join(out))

    run(body)
