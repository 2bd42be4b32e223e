"""kubeconfig files: read them into a ``Config``, and write one for a server.

Why: kctl, every controller process and the real kubectl must reach the same
server with the same credentials, so they all use the kubeconfig format and
client-go's lookup rules: ``--kubeconfig`` beats ``KUBECONFIG`` (a
path list whose files are merged, first definition of a name wins) beats
``~/.kube/config``; ``--context`` beats ``current-context``; ``--server``
beats the cluster's server; relative file paths are relative to the file
that names them.

Only what a token- or CA-authenticated HTTP(S) client needs is read
(server, token / tokenFile, certificate-authority(-data),
insecure-skip-tls-verify, the context's namespace); client certificates and
exec plugins are not supported.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SERVER = "http://127.0.0.1:8080"


class ConfigError(Exception):
    """The kubeconfig is missing, unreadable or names something it does not define."""


@dataclass(frozen=True)
class Config:
    """Everything needed to open a connection to one API server."""

    server: str
    token: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None  # PEM, already base64-decoded
    insecure: bool = False
    namespace: str = "default"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"unable to read kubeconfig {path}: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"unable to parse kubeconfig {path}: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"unable to parse kubeconfig {path}: not a mapping")
    return data


def _named(doc: dict[str, Any], section: str, inner: str, base: Path) -> dict[str, tuple[dict[str, Any], Path]]:
    out: dict[str, tuple[dict[str, Any], Path]] = {}
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            out[entry["name"]] = (dict(entry.get(inner) or {}), base)
    return out


def config_paths(*, kubeconfig: str | None = None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The files to read, in precedence order (client-go's loading rules)."""
    env = os.environ if environ is None else environ
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    if env.get("KUBECONFIG"):
        return [Path(p).expanduser() for p in env["KUBECONFIG"].split(os.pathsep) if p]
    home = env.get("HOME") or str(Path.home())
    return [Path(home) / ".kube" / "config"]


def load_config(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    server: str | None = None,
    namespace: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve the effective ``Config`` from flags, environment and files.

    An explicit ``kubeconfig`` path must exist; missing ``KUBECONFIG`` entries
    and a missing ``~/.kube/config`` are skipped. With no file at all the
    result is ``server`` (or kubectl's default, a local insecure port).
    """
    paths = config_paths(kubeconfig=kubeconfig, environ=environ)
    clusters: dict[str, tuple[dict[str, Any], Path]] = {}
    users: dict[str, tuple[dict[str, Any], Path]] = {}
    contexts: dict[str, tuple[dict[str, Any], Path]] = {}
    current = ""
    found = False
    for p in paths:
        if not p.exists():
            if kubeconfig:
                raise ConfigError(f"stat {p}: no such file or directory")
            continue
        found = True
        doc = _read(p)
        base = p.parent
        for target, section, inner in ((clusters, "clusters", "cluster"), (users, "users", "user"),
                                       (contexts, "contexts", "context")):
            for name, value in _named(doc, section, inner, base).items():
                target.setdefault(name, value)
        if not current and isinstance(doc.get("current-context"), str):
            current = doc["current-context"]

    ctx_name = context or current
    if not found or (not ctx_name and server):
        return Config(server=server or DEFAULT_SERVER, namespace=namespace or "default")
    if not ctx_name:
        raise ConfigError("invalid configuration: no configuration has been provided")
    if ctx_name not in contexts:
        raise ConfigError(f'context "{ctx_name}" does not exist')
    ctx, _ = contexts[ctx_name]
    cluster, cbase = clusters.get(str(ctx.get("cluster") or ""), ({}, Path(".")))
    user, ubase = users.get(str(ctx.get("user") or ""), ({}, Path(".")))
    srv = server or cluster.get("server")
    if not srv:
        raise ConfigError(f'invalid configuration: no server found for cluster "{ctx.get("cluster") or ""}"')

    token = user.get("token") or None
    if not token and user.get("tokenFile"):
        tpath = _resolve(ubase, str(user["tokenFile"]))
        try:
            token = Path(tpath).read_text().strip() or None
        except OSError as e:
            raise ConfigError(f"unable to read token file {tpath}: {e.strerror or e}") from e
    ca_data: bytes | None = None
    if cluster.get("certificate-authority-data"):
        try:
            ca_data = base64.b64decode(str(cluster["certificate-authority-data"]), validate=True)
        except ValueError as e:
            raise ConfigError("unable to decode certificate-authority-data: illegal base64 data") from e
    ca_file = cluster.get("certificate-authority")
    return Config(
        server=str(srv).rstrip("/"),
        token=str(token) if token else None,
        ca_file=_resolve(cbase, str(ca_file)) if ca_file and not ca_data else None,
        ca_data=ca_data,
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        namespace=namespace or str(ctx.get("namespace") or "default"),
    )


def _resolve(base: Path, path: str) -> str:
    """A file path named inside a kubeconfig, made absolute relative to that kubeconfig."""
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p))


def render_kubeconfig(
    server: str,
    *,
    token: str | None = None,
    ca_data: bytes | str | None = None,
    name: str = "kubelite",
    namespace: str | None = None,
) -> str:
    """A one-cluster, one-user, one-context kubeconfig (YAML text) that kubectl accepts.

    ``ca_data`` is the PEM text of the CA; it is stored base64-encoded as
    ``certificate-authority-data``.
    """
    cluster: dict[str, Any] = {"server": server}
    if ca_data is not None:
        pem = ca_data.encode() if isinstance(ca_data, str) else ca_data
        cluster["certificate-authority-data"] = base64.b64encode(pem).decode()
    user: dict[str, Any] = {}
    if token is not None:
        user["token"] = token
    ctx: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        ctx["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": ctx}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)
