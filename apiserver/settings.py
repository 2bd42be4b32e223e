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

    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'kubelite.db').resolve()}"
