"""Two API servers on one PostgreSQL database: one ordered history, missing nothing, for every watcher."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from tests import needs
from tests.conftest import fresh_pg_database, start_apiserver

needs.pg_url(module=True)


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_writes_through_two_servers_reach_every_watcher_once_in_revision_order(tmp_path: Path) -> None:
    url = fresh_pg_database()
    a = start_apiserver(tmp_path / "a", extra=["--db", url])
    b = start_apiserver(tmp_path / "b", extra=["--db", url])
    total = 2000
    streams: dict[str, list[dict[str, Any]]] = {}
    done = threading.Event()
    try:
        start_rv = httpx.get(f"{a.url}/api/v1/namespaces/default/pods").json()["metadata"]["resourceVersion"]

        def watch(tag: str, base: str) -> None:
            events: list[dict[str, Any]] = streams.setdefault(tag, [])
            with httpx.Client(timeout=httpx.Timeout(5, read=60)) as c, c.stream(
                "GET", f"{base}/api/v1/namespaces/default/pods",
                params={"watch": "1", "resourceVersion": start_rv, "timeoutSeconds": "120"},
            ) as r:
                for line in r.iter_lines():
                    if line:
                        events.append(json.loads(line))
                    if len(events) >= total or done.is_set():
                        return

        watchers = [threading.Thread(target=watch, args=(f"{tag}{i}", srv.url), daemon=True)
                    for tag, srv in (("a", a), ("b", b)) for i in range(2)]
        for t in watchers:
            t.start()

        def write(base: str, names: list[str]) -> None:
            with httpx.Client(base_url=base, timeout=30) as c:
                for n in names:
                    assert c.post("/api/v1/namespaces/default/pods", json=pod(n)).status_code == 201

        writers = [threading.Thread(target=write, args=(srv.url, [f"{tag}{w}-{i}" for i in range(total // 8)]))
                   for tag, srv in (("a", a), ("b", b)) for w in range(4)]
        for t in writers:
            t.start()
        for t in writers:
            t.join(300)
        for t in watchers:
            t.join(60)
        done.set()
        # Every pod's create revision, as stored. Not a gap-free range: the API servers' own Leases
        # (the kubernetes endpoints) take revisions of the same counter while the pods are written.
        listed = httpx.get(f"{b.url}/api/v1/namespaces/default/pods", timeout=30).json()["items"]
        created = sorted(int(p["metadata"]["resourceVersion"]) for p in listed)
        assert len(created) == total
        expected = None
        for tag, events in streams.items():
            revs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
            assert len(revs) == total, f"watcher {tag} saw {len(revs)} of {total}"
            assert revs == sorted(revs) and len(set(revs)) == total, f"watcher {tag}: out of order or duplicate"
            assert revs == created, f"watcher {tag}: its revisions are not the stored ones"
            names = [e["object"]["metadata"]["name"] for e in events]
            expected = expected or names
            assert names == expected  # every watcher, on either server, saw the same order
        # optimistic concurrency holds across servers
        obj = httpx.get(f"{a.url}/api/v1/namespaces/default/pods/a0-0").json()
        obj["metadata"]["labels"] = {"x": "1"}
        assert httpx.put(f"{b.url}/api/v1/namespaces/default/pods/a0-0", json=obj).status_code == 200
        assert httpx.put(f"{a.url}/api/v1/namespaces/default/pods/a0-0", json=obj).status_code == 409
    finally:
        done.set()
        a.stop()
        b.stop()
