"""An acknowledged write survives kill -9 of the API server process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import start_apiserver


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_acknowledged_creates_survive_kill_9(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        with httpx.Client(base_url=srv.url, timeout=5) as c:
            i = 0
            while not stop.is_set():
                name = f"w{w}-{i}"
                i += 1
                try:
                    r = c.post("/api/v1/namespaces/default/pods", json=pod(name))
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    with lock:
                        acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    try:
        while len(acknowledged) < 300:
            threads[0].join(0.05)
        srv.kill9()  # mid-flight: some requests are in the air
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        srv.stop()
    srv2 = start_apiserver(tmp_path, port=srv.port)
    try:
        with httpx.Client(base_url=srv2.url) as c:
            items = c.get("/api/v1/namespaces/default/pods").json()["items"]
        present = {p["metadata"]["name"] for p in items}
        missing = set(acknowledged) - present
        assert not missing, f"{len(missing)} acknowledged writes lost"
        assert len(acknowledged) >= 300
    finally:
        srv2.stop()
