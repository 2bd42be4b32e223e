"""A client that goes away in the middle of its request body is not a server error.

Why: a cut connection used to surface as ``ERROR internal error ... ClientDisconnect`` with a traceback,
which sends operators looking for a bug that is not there. It is counted
(``kubelite_client_disconnects_total``) and logged at debug level in one line.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from tests.conftest import start_apiserver


def _cut_short(port: int, path: str) -> None:
    """Send the head and part of a body that announces 1000 bytes, then close the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Content-Length: 1000\r\n\r\n".encode() + b'{"apiVersion":"v1","kind":')
        time.sleep(0.2)  # the handler is reading the body when the connection goes


def _disconnects(url: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith('kubelite_client_disconnects_total{resource="pods",verb="CREATE"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_body_cut_short_is_counted_not_logged_as_an_error(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path / "d", extra=["--log-level", "debug"])
    try:
        _cut_short(srv.port, "/api/v1/namespaces/default/pods")
        deadline = time.monotonic() + 10
        while _disconnects(srv.url) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _disconnects(srv.url) == 1
        # The server still serves, the next request on a new connection included.
        r = httpx.post(srv.url + "/api/v1/namespaces/default/pods", timeout=10, json={
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "after"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
        assert r.status_code == 201, r.text
        log = srv.log.read_text()
        assert "Traceback" not in log
        assert "internal error" not in log
        assert "ClientDisconnect" not in log
        # One quiet line says what happened.
        assert log.count("client disconnected during POST /api/v1/namespaces/default/pods") == 1
    finally:
        srv.stop()
