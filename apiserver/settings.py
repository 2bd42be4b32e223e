"""API server settings: flags, with environment variables as defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass
class Settings:
    bind_address: str = field(default_factory=lambda: _env("KUBELITE_BIND_ADDRESS", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("KUBELITE_PORT", "8080")))
    data_dir: Path = field(default_factory=lambda: Path(_env("KUBELITE_DATA_DIR", "./.kubelite")))
    db_url: str = field(default_factory=lambda: _env("KUBELITE_DB", ""))
    service_cluster_ip_range: str = field(
        default_factory=lambda: _env("KUBELITE_SERVICE_CLUSTER_IP_RANGE", "10.96.0.0/12")
    )
    service_node_port_range: str = field(
        default_factory=lambda: _env("KUBELITE_SERVICE_NODE_PORT_RANGE", "30000-32767")
    )
    # How many changes the database and the watch cache keep (per resource in the cache).
    keep_changes: int = field(default_factory=lambda: int(_env("KUBELITE_KEEP_CHANGES", "10000")))
    compact_interval: float = field(default_factory=lambda: float(_env("KUBELITE_COMPACT_INTERVAL", "30")))
    max_body_bytes: int = 3 * 1024 * 1024
    watch_queue: int = 2048
    bookmark_interval: float = 60.0
    # Seconds a watch lasts when the client sends no timeoutSeconds (kube-apiserver: 30-60 min).
    min_request_timeout: float = 1800.0
    # Process-wide GC tuning (the CLI turns it on): the watch cache holds every object, and
    # full collections walking it stall every request; freeze what start-up loaded.
    tune_gc: bool = False
    # Security (apiserver/auth.py, apiserver/serving.py): off unless configured; the CLI then
    # refuses any non-loopback bind address.
    token_auth_file: Path | None = None
    authorization_policy_file: Path | None = None
    anonymous_auth: bool = False
    tls: bool = False
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    tls_sans: tuple[str, ...] = ()
    # kube-apiserver's EncryptionConfiguration: which resources are encrypted at rest, and how
    # (apiserver/storage/encryption.py). None: bodies are stored as JSON.
    encryption_provider_config: Path | None = None
    # Overload (apiserver/overload.py), kube-apiserver's defaults; 0 disables a cap.
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    max_watchers: int = 10000
    # Seconds a non-watch request may take before it gets 504 (kube-apiserver --request-timeout).
    request_timeout: float = 60.0
    # Seconds in-flight requests get to finish after SIGTERM.
    shutdown_grace: float = 10.0
    # Seconds a Service create may wait for the running ipam/nodeport controllers to fill its
    # ClusterIPs and node ports, so it answers with them as kube-apiserver does (0: answer at once).
    allocation_wait: float = 2.0

    @property
    def serves_tls(self) -> bool:
        return self.tls or bool(self.tls_cert_file and self.tls_private_key_file)

    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'kubelite.db').resolve()}"
