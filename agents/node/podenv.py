"""A container's environment, command line and built-in image, as the kubelet computes them: pure functions.

Why pure: what a process sees is decided before it starts, from the Pod,
the Services of its namespace and the addresses the node gave it; a
function of those is what the tests pin down.

Rules (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables and
third_party/forked/golang/expansion):
- the container's ``env`` comes first, in declaration order; a ``value``
  has its ``$(VAR)`` references expanded against the variables declared
  before it and the Service variables (``$$`` escapes a ``$``, an unknown
  reference stays as written); a ``valueFrom.fieldRef`` is the downward
  API; then come the Service variables the container did not override;
- ``command`` and ``args`` are expanded against the final environment;
- kubelite has no ConfigMaps or Secrets: a non-optional reference to one
  is a CreateContainerConfigError with the kubelet's message, an optional
  one is skipped;
- the runtime adds what a container runtime would (``HOSTNAME``, ``PATH``)
  and what kubelite's built-ins need: ``KUBELITE_POD_NAME``,
  ``KUBELITE_POD_NAMESPACE``, ``KUBELITE_POD_UID``, ``KUBELITE_POD_IP``,
  ``KUBELITE_NODE_NAME``, and ``PORT`` (the first containerPort, unless the
  Pod sets it).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apimachinery import envvars
from apimachinery.objects import as_list, as_map

Obj = dict[str, Any]

ECHO_FILE = str(Path(__file__).with_name("echo.py"))
# image name (registry and tag stripped) -> (argv of the entrypoint after the interpreter, default port)
BUILTIN_IMAGES: dict[str, tuple[tuple[str, ...], int]] = {
    "kubelite/echo": (("http",), 8080),
    "kubelite/tcp-echo": (("tcp",), 9000),
}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ConfigError(Exception):
    """The container cannot be configured (the kubelet's CreateContainerConfigError)."""


# ---------------------------------------------------------------------------
# $(VAR) expansion
# ---------------------------------------------------------------------------


def _read_variable(rest: str) -> tuple[str, bool, int]:
    """tryReadVariableName: (text, is a variable, characters consumed after the ``$``)."""
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        end = rest.find(")", 1)
        if end != -1:
            return rest[1:end], True, end + 1
        return "$(", False, 1
    return "$" + rest[0], False, 1


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """expansion.Expand with MappingFuncFor: unknown ``$(NAME)`` stays as written."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable(text[cursor + 1:])
            if is_var:
                value = lookup(read)
                out.append(value if value is not None else f"$({read})")
            else:
                out.append(read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


# ---------------------------------------------------------------------------
# downward API
# ---------------------------------------------------------------------------

_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def _format_map(m: Mapping[str, Any]) -> str:
    """fieldpath.FormatMap: ``key="value"`` lines, sorted."""
    return "\n".join(f'{k}="{v}"' for k, v in sorted(m.items()))


def field_ref(pod: Mapping[str, Any], path: str, *, pod_ip: str, host_ip: str) -> str:
    """podFieldSelectorRuntimeValue + fieldpath.ExtractFieldPathAsString."""
    meta, spec = as_map(pod.get("metadata")), as_map(pod.get("spec"))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    if path in ("metadata.labels", "metadata.annotations"):
        return _format_map(as_map(meta.get(path.split(".")[1])))
    m = _SUBSCRIPT.match(path)
    if m:
        return str(as_map(meta.get(m.group(1))).get(m.group(2), ""))
    raise ConfigError(f"unsupported fieldPath: {path}")


def _resource_ref(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    """resourceFieldRef without divisor arithmetic: the container's value, else the node's allocatable."""
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    resources = as_map(container.get("resources"))
    value = as_map(resources.get(kind)).get(name)
    if value is not None:
        return str(value)
    return {"cpu": "8", "memory": str(16 * 1024 ** 3), "ephemeral-storage": str(100 * 1024 ** 3)}.get(name, "0")


# ---------------------------------------------------------------------------
# the environment
# ---------------------------------------------------------------------------


def _missing_source(kind: str, name: str, optional: bool) -> None:
    if not optional:
        raise ConfigError(f'{kind} "{name}" not found')


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    services: Sequence[Mapping[str, Any]],
    pod_ip: str,
    host_ip: str,
) -> list[tuple[str, str]]:
    """The variables the kubelet hands the runtime, in its order; raises ConfigError."""
    service_env = dict(envvars.pod_service_env(pod, services))
    declared: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        if name in declared:
            return declared[name]
        return service_env.get(name)

    for src in as_list(container.get("envFrom")):
        src = as_map(src)
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = as_map(src.get(key))
            if ref:
                _missing_source(kind, str(ref.get("name") or ""), bool(ref.get("optional")))
    for var in as_list(container.get("env")):
        var = as_map(var)
        name = str(var.get("name") or "")
        value = var.get("value")
        source = as_map(var.get("valueFrom"))
        if value:
            declared[name] = expand(str(value), lookup)
            continue
        if not source:
            declared[name] = ""
            continue
        if source.get("fieldRef"):
            declared[name] = field_ref(pod, str(as_map(source["fieldRef"]).get("fieldPath") or ""),
                                       pod_ip=pod_ip, host_ip=host_ip)
        elif source.get("resourceFieldRef"):
            declared[name] = _resource_ref(container, as_map(source["resourceFieldRef"]))
        else:
            for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                ref = as_map(source.get(key))
                if ref:
                    _missing_source(kind, str(ref.get("name") or ""), bool(ref.get("optional")))
    out = list(declared.items())
    out += [(k, v) for k, v in service_env.items() if k not in declared]
    return out


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
) -> Launch:
    """The process for ``container``; raises ConfigError or ImageError."""
    meta = as_map(pod.get("metadata"))
    spec = as_map(pod.get("spec"))
    env_list = container_env(pod, container, services=services, pod_ip=pod_ip, host_ip=host_ip)
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
    }
    if known is not None and "PORT" not in env:
        runtime_env["PORT"] = str(first_port(container) or BUILTIN_IMAGES[known][1])
    working = str(container.get("workingDir") or "") or sandbox
    return Launch(argv=argv, env={**runtime_env, **env}, cwd=working)
