"""The Service environment variables a kubelet injects into a Pod's containers (the node agent and kctl env).

Why: ``kctl env pod/x`` answers "what would my container see?" exactly as
pkg/kubelet/envvars (FromServices, makeLinkVariables) and the kubelet's
getServiceEnvVarMap compute it: for every Service with a cluster IP in the
Pod's namespace (when ``enableServiceLinks`` is not false) plus the
``kubernetes`` Service of ``default``: ``{NAME}_SERVICE_HOST``,
``{NAME}_SERVICE_PORT``, ``{NAME}_SERVICE_PORT_{PORTNAME}`` per named port, and
the Docker-link variables ``{NAME}_PORT``, ``{NAME}_PORT_{port}_{PROTO}``
(+ ``_PROTO``, ``_PORT``, ``_ADDR``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MASTER_SERVICES = ("kubernetes",)


def env_var_name(name: str) -> str:
    """makeEnvVariableName: upper case, dashes to underscores."""
    return name.replace("-", "_").upper()


def service_ip_set(svc: Mapping[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def link_variables(svc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """makeLinkVariables: the Docker-compatible ``*_PORT*`` variables."""
    prefix = env_var_name(str((svc.get("metadata") or {}).get("name") or ""))
    spec = svc.get("spec") or {}
    ip = str(spec.get("clusterIP") or "")
    out: list[tuple[str, str]] = []
    for i, sp in enumerate(spec.get("ports") or []):
        protocol = str(sp.get("protocol") or "TCP")
        port = int(sp.get("port") or 0)
        url = f"{protocol.lower()}://{_join_host_port(ip, port)}"
        if i == 0:
            out.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{port}_{protocol.upper()}"
        out += [
            (port_prefix, url),
            (f"{port_prefix}_PROTO", protocol.lower()),
            (f"{port_prefix}_PORT", str(port)),
            (f"{port_prefix}_ADDR", ip),
        ]
    return out


def from_services(services: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """envvars.FromServices, in the order given; Services without a cluster IP are skipped."""
    out: list[tuple[str, str]] = []
    for svc in services:
        if not service_ip_set(svc):
            continue
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        name = env_var_name(str((svc.get("metadata") or {}).get("name") or ""))
        out.append((f"{name}_SERVICE_HOST", str(spec.get("clusterIP"))))
        if not ports:
            continue
        out.append((f"{name}_SERVICE_PORT", str(ports[0].get("port"))))
        for sp in ports:
            if sp.get("name"):
                out.append((f"{name}_SERVICE_PORT_{env_var_name(str(sp['name']))}", str(sp.get("port"))))
        out.extend(link_variables(svc))
    return out


def services_for_pod(pod: Mapping[str, Any], services: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """getServiceEnvVarMap's choice: default/kubernetes always, the Pod's namespace when service links are on."""
    ns = str((pod.get("metadata") or {}).get("namespace") or "default")
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    chosen: dict[str, Mapping[str, Any]] = {}
    for svc in services:
        if not service_ip_set(svc):
            continue
        meta = svc.get("metadata") or {}
        name, svc_ns = str(meta.get("name") or ""), str(meta.get("namespace") or "")
        if svc_ns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif svc_ns == ns and links:
            chosen[name] = svc
    return [chosen[n] for n in sorted(chosen)]


def pod_service_env(pod: Mapping[str, Any], services: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The service variables of ``pod`` (Services sorted by name; the kubelet's own order is a map's)."""
    return from_services(services_for_pod(pod, services))
