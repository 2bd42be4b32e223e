"""``kubelite console``: serve the console on loopback, reading the cluster with the user's kubeconfig."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from types import FrameType

import uvicorn

from console.server import create_app
from kubeclient.client import Client
from kubeclient.kubeconfig import load_config

log = logging.getLogger("console")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    """uvicorn's server that also tells the open event streams to end when it is asked to exit."""

    def __init__(self, config: uvicorn.Config, stopping: asyncio.Event) -> None:
        super().__init__(config)
        self.stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stopping.set()
        super().handle_exit(sig, frame)


def allowed_hosts(bind_address: str) -> list[str]:
    """Host headers the console answers: loopback names only (no DNS rebinding onto it)."""
    return sorted({"localhost", "127.0.0.1", "[::1]", bind_address})


async def serve(*, server: str | None, kubeconfig: str | None, bind_address: str, port: int,
                log_level: str = "info") -> None:
    """Until cancelled or signalled. Raises ValueError for a bind address the console refuses."""
    if not is_loopback(bind_address):
        raise ValueError(f"refusing to bind {bind_address}: the console serves loopback only for now "
                         "(it has no TLS or login of its own; use --bind-address 127.0.0.1 and an SSH tunnel)")
    cfg = load_config(kubeconfig=kubeconfig, server=server)
    client = Client.from_config(cfg)
    try:
        stopping = asyncio.Event()
        app = create_app(client, allowed_hosts=allowed_hosts(bind_address), stopping=stopping)
        config = uvicorn.Config(app, host=bind_address, port=port, log_level=log_level, access_log=False,
                                timeout_graceful_shutdown=2, lifespan="on")
        srv = _Server(config, stopping)
        log.info("console: http://%s:%d/ reading %s", bind_address, port, cfg.server)
        await srv.serve()
    finally:
        await client.close()


def run(*, server: str | None, kubeconfig: str | None, bind_address: str, port: int, log_level: str) -> int:
    asyncio.run(serve(server=server, kubeconfig=kubeconfig, bind_address=bind_address, port=port,
                      log_level=log_level))
    return 0
