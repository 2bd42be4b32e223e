"""A container's environment as the kubelet computes it (makeEnvironmentVariables): pure functions.

Why in apimachinery: the node agent starts processes with it and ``kctl
env`` prints it; both are a function of the Pod, the Services of its
namespace, the addresses the node gave it and the ConfigMaps and Secrets
it names (``podsources``).

Rules (the kubelet's makeEnvironmentVariables and its expansion package):
- ``envFrom`` comes first: every key of the ConfigMap or Secret, prefixed,
  except keys that are not environment variable names (skipped, with the
  kubelet's InvalidEnvironmentVariableNames Event, collected in ``events``);
- then the container's ``env``, in declaration order; a ``value`` has its
  ``$(VAR)`` references expanded against the variables declared before it
  and the Service variables (``$$`` escapes a ``$``, an unknown reference
  stays as written); a ``valueFrom.fieldRef`` is the downward API;
  ``configMapKeyRef``/``secretKeyRef`` read the fetched objects: a missing
  object or key is a ConfigError (the kubelet's
  CreateContainerConfigError) with the kubelet's message unless the
  reference is optional (then the variable is skipped);
  ``resourceFieldRef`` is containerResourceRuntimeValue: the container's
  limit (the node's allocatable when unset, as
  defaultPodLimitsForDownwardAPI) or request, over the divisor, rounded up
  (cpu in millicores);
- then the Service variables the container did not override.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from apimachinery import envvars
from apimachinery.errors import go_quote
from apimachinery.objects import as_list, as_map
from apimachinery.podsources import CONFIGMAP, SECRET, Source, Sources, missing_key, not_found
from apimachinery.quantity import QuantityError, parse

Obj = dict[str, Any]

# What a kubelite node advertises as capacity and allocatable (the heartbeat publishes it; limits default to it).
NODE_RESOURCES = {"cpu": "8", "memory": "16Gi", "ephemeral-storage": "100Gi"}
_ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


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
    """fieldpath.FormatMap: ``key="value"`` lines (Go's %q), sorted."""
    return "\n".join(f"{k}={go_quote(str(v))}" for k, v in sorted(m.items()))


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


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def resource_ref(container: Mapping[str, Any], ref: Mapping[str, Any], *,
                 allocatable: Mapping[str, str] = NODE_RESOURCES) -> str:
    """containerResourceRuntimeValue: ``limits.cpu`` etc. over ``divisor`` (default 1), rounded up.

    cpu divides MilliValue by the divisor's MilliValue; memory and
    ephemeral-storage divide Value (whole units, rounded up) by the
    divisor's Value. An unset limit is the node's allocatable
    (defaultPodLimitsForDownwardAPI); an unset request is 0.
    """
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f"unsupported container resource : {resource}")
    resources = as_map(container.get("resources"))
    raw = as_map(resources.get(kind)).get(name)
    if raw is None and kind == "limits":
        raw = allocatable.get(name)
    try:
        value = parse(str(raw))[0] if raw is not None else Fraction(0)
        divisor = parse(str(ref.get("divisor")))[0] if ref.get("divisor") not in (None, "") else Fraction(0)
    except QuantityError as e:
        raise ConfigError(f"{resource}: {e}") from e
    if divisor == 0:
        divisor = Fraction(1)
    if name == "cpu":
        milli, div = math.ceil(value * 1000), math.ceil(divisor * 1000)
        return str(_ceil_div(milli, div))
    return str(_ceil_div(math.ceil(value), math.ceil(divisor)))


# ---------------------------------------------------------------------------
# the environment
# ---------------------------------------------------------------------------


def _lookup(sources: Sources, kind: str, name: str, *, optional: bool) -> Source | None:
    """The object, None when it is missing and the reference optional; raises ConfigError otherwise."""
    found = sources.get((kind, name))
    if found is None and not optional:
        raise ConfigError(not_found(kind, name))
    return found


def _env_from(pod: Mapping[str, Any], container: Mapping[str, Any], sources: Sources,
              events: list[str] | None) -> dict[str, str]:
    namespace = str(as_map(pod.get("metadata")).get("namespace") or "")
    out: dict[str, str] = {}
    for src in as_list(container.get("envFrom")):
        src = as_map(src)
        prefix = str(src.get("prefix") or "")
        for kind, key, what in ((CONFIGMAP, "configMapRef", "configMap"), (SECRET, "secretRef", "secret")):
            ref = as_map(src.get(key))
            if not ref:
                continue
            name = str(ref.get("name") or "")
            found = _lookup(sources, kind, name, optional=bool(ref.get("optional")))
            if found is None:
                continue
            invalid: list[str] = []
            for k, v in found.strings.items():
                k = prefix + k
                if not _ENV_VAR_NAME.match(k) or k == "." or k.startswith(".."):  # IsEnvVarName
                    invalid.append(k)
                    continue
                out[k] = v
            if invalid and events is not None:
                events.append(f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} {namespace}/{name} "
                              "were skipped since they are considered invalid environment variable names.")
    return out


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    services: Sequence[Mapping[str, Any]],
    pod_ip: str,
    host_ip: str,
    sources: Sources | None = None,
    allocatable: Mapping[str, str] = NODE_RESOURCES,
    events: list[str] | None = None,
) -> list[tuple[str, str]]:
    """The variables the kubelet hands the runtime, in its order; raises ConfigError.

    ``sources`` holds the ConfigMaps and Secrets the agent found (absent:
    not found); ``events`` collects the messages of Warning Events the
    kubelet would record (InvalidEnvironmentVariableNames).
    """
    sources = sources or {}
    namespace = str(as_map(pod.get("metadata")).get("namespace") or "")
    service_env = dict(envvars.pod_service_env(pod, services))
    declared: dict[str, str] = _env_from(pod, container, sources, events)

    def lookup(name: str) -> str | None:
        if name in declared:
            return declared[name]
        return service_env.get(name)

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
            continue
        if source.get("resourceFieldRef"):
            declared[name] = resource_ref(container, as_map(source["resourceFieldRef"]), allocatable=allocatable)
            continue
        for kind, key in ((CONFIGMAP, "configMapKeyRef"), (SECRET, "secretKeyRef")):
            ref = as_map(source.get(key))
            if not ref:
                continue
            ref_name, ref_key, optional = str(ref.get("name") or ""), str(ref.get("key") or ""), bool(ref.get("optional"))
            found = _lookup(sources, kind, ref_name, optional=optional)
            if found is None:
                break
            if ref_key not in found.strings:
                if optional:
                    break
                raise ConfigError(missing_key(kind, namespace, ref_name, ref_key))
            declared[name] = found.strings[ref_key]
    out = list(declared.items())
    out += [(k, v) for k, v in service_env.items() if k not in declared]
    return out
