"""A container's environment, command line and built-in image, as the kubelet computes them: pure functions.

Why pure: what a process sees is decided before it starts, from the Pod,
the Services of its namespace and the addresses the node gave it; a
function of those is what the tests pin down.

Rules: the environment is ``apimachinery.containerenv`` (the kubelet's
makeEnvironmentVariables, with ConfigMaps and Secrets); here:
- ``command`` and ``args`` are expanded against the final environment;
- the runtime adds what a container runtime would (``HOSTNAME``, ``PATH``)
  and what kubelite's built-ins need: ``KUBELITE_POD_NAME``,
  ``KUBELITE_POD_NAMESPACE``, ``KUBELITE_POD_UID``, ``KUBELITE_POD_IP``,
  ``KUBELITE_NODE_NAME``, and ``PORT`` (the first containerPort, unless the
  Pod sets it), and one ``KUBELITE_VOLUME_<NAME>`` per volumeMount: the
  host directory (or, for a subPath, file) the mount stands for
  (``podvolumes``): a process cannot be given a bind mount, so it is told
  where its mounts are.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apimachinery.containerenv import (
    NODE_RESOURCES,
    ConfigError,
    container_env,
    expand,
    field_ref,
    resource_ref,
)
from apimachinery.objects import as_list, as_map
from apimachinery.podsources import Sources

__all__ = ["NODE_RESOURCES", "ConfigError", "container_env", "expand", "field_ref", "resource_ref"]

Obj = dict[str, Any]

ECHO_FILE = str(Path(__file__).with_name("echo.py"))
# image name (registry and tag stripped) -> (argv of the entrypoint after the interpreter, default port)
BUILTIN_IMAGES: dict[str, tuple[tuple[str, ...], int]] = {
    "kubelite/echo": (("http",), 8080),
    "kubelite/tcp-echo": (("tcp",), 9000),
}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def image_name(image: str) -> str:
    """``docker.io/kubelite/echo:1.0`` -> ``kubelite/echo`` (registry, tag and digest dropped)."""
    name = image.split("@", 1)[0]
    if name.rfind(":") > name.rfind("/"):
        name = name[: name.rfind(":")]
    for prefix in ("docker.io/", "index.docker.io/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def builtin(image: str) -> str | None:
    name = image_name(image)
    return name if name in BUILTIN_IMAGES else None


def first_port(container: Mapping[str, Any]) -> int | None:
    for p in as_list(container.get("ports")):
        port = as_map(p).get("containerPort")
        if isinstance(port, int):
            return port
    return None


@dataclass
class Launch:
    """What to exec: argv, environment, working directory."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""


class ImageError(Exception):
    """The image is neither built in nor given a command (the kubelet's ErrImagePull)."""


def launch(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    services: Sequence[Mapping[str, Any]],
    pod_ip: str,
    host_ip: str,
    node_name: str,
    sandbox: str,
    sources: Sources | None = None,
    mounts: Mapping[str, str] | None = None,
    events: list[str] | None = None,
) -> Launch:
    """The process for ``container``; raises ConfigError or ImageError.

    ``mounts`` maps the ``KUBELITE_VOLUME_<NAME>`` variables to host paths
    (``podvolumes.mount_env``); the container's own variables win over them.
    """
    meta = as_map(pod.get("metadata"))
    spec = as_map(pod.get("spec"))
    env_list = container_env(pod, container, services=services, pod_ip=pod_ip, host_ip=host_ip, sources=sources,
                             events=events)
    env = dict(env_list)
    image = str(container.get("image") or "")
    known = builtin(image)
    command = [str(c) for c in as_list(container.get("command"))]
    args = [str(a) for a in as_list(container.get("args"))]

    def lookup(name: str) -> str | None:
        return env.get(name)

    if command:
        argv = [expand(c, lookup) for c in command] + [expand(a, lookup) for a in args]
    elif known is not None:
        entry, _port = BUILTIN_IMAGES[known]
        argv = [sys.executable, ECHO_FILE, *entry] + [expand(a, lookup) for a in args]
    else:
        builtins = ", ".join(sorted(BUILTIN_IMAGES))
        raise ImageError(f'image "{image}" is not available: kubelite\'s process runtime pulls no images; '
                         f"use a built-in one ({builtins}) or give the container a command")
    runtime_env = {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "HOSTNAME": str(spec.get("hostname") or meta.get("name") or ""),
        "KUBELITE_POD_NAME": str(meta.get("name") or ""),
        "KUBELITE_POD_NAMESPACE": str(meta.get("namespace") or ""),
        "KUBELITE_POD_UID": str(meta.get("uid") or ""),
        "KUBELITE_POD_IP": pod_ip,
        "KUBELITE_NODE_NAME": node_name,
        **(mounts or {}),
    }
    if known is not None and "PORT" not in env:
        runtime_env["PORT"] = str(first_port(container) or BUILTIN_IMAGES[known][1])
    working = str(container.get("workingDir") or "") or sandbox
    return Launch(argv=argv, env={**runtime_env, **env}, cwd=working)
