"""``kctl env pod/NAME``: the Service environment variables the kubelet would inject into the Pod."""

from __future__ import annotations

from typing import Any

import click

from apimachinery.envvars import pod_service_env
from kubeclient import errors
from kubeclient.kctl.failures import fail
from kubeclient.kctl.options import connection_options, echo, run
from kubeclient.kctl.session import Session


@click.command("env")
@click.argument("args", nargs=-1, required=True)
@connection_options
def env_cmd(args: tuple[str, ...]) -> None:
    """Print the {NAME}_SERVICE_HOST/_PORT... variables a kubelet injects into pod/NAME, one NAME=value a line."""
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
        ns = str((pod.get("metadata") or {}).get("namespace") or s.namespace)
        services: list[dict[str, Any]] = list((await s.list_all(svc_rt, namespace=ns))["items"])
        try:
            services.append(await s.api.get(svc_rt, "kubernetes", namespace="default"))
        except errors.NotFound:
            pass
        for svc in services:
            svc.setdefault("metadata", {}).setdefault("namespace", ns)
        echo("".join(f"{k}={v}\n" for k, v in pod_service_env(pod, services)))

    run(body)
