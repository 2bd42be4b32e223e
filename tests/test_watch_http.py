"""Watch streams over real HTTP against a live API server process."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx


def pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


class Collector:
    """Reads a watch stream on a thread; events land in ``events``."""

    def __init__(self, url: str, params: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self.ended = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=None))
        self._thread = threading.Thread(target=self._run, args=(url, params), daemon=True)
        self._thread.start()

    def _run(self, url: str, params: dict[str, Any]) -> None:
        try:
            with self._client.stream("GET", url, params={**params, "watch": "1"}) as r:
                for line in r.iter_lines():
                    if line:
                        self.events.append(json.loads(line))
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def wait_for(self, n: int, timeout: float = 5) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.events

    def close(self) -> None:
        self._client.close()


def test_watch_without_rv_sends_current_state_then_changes(api: httpx.Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("a"))
    c = Collector(f"{api.base_url}/api/v1/namespaces/{ns}/pods", {})
    try:
        assert [e["type"] for e in c.wait_for(1)] == ["ADDED"]
        api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("b"))
        api.delete(f"/api/v1/namespaces/{ns}/pods/a")
        events = c.wait_for(3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    finally:
        c.close()


def test_watch_from_resource_version_resumes_exactly(api: httpx.Client, ns: str) -> None:
    rvs = []
    for i in range(5):
        rvs.append(api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(f"p{i}")).json()["metadata"]["resourceVersion"])
    c = Collector(f"{api.base_url}/api/v1/namespaces/{ns}/pods", {"resourceVersion": rvs[1]})
    try:
        events = c.wait_for(3)
        assert [e["object"]["metadata"]["name"] for e in events] == ["p2", "p3", "p4"]
        assert [e["object"]["metadata"]["resourceVersion"] for e in events] == rvs[2:]
        time.sleep(0.2)
        assert len(c.events) == 3
    finally:
        c.close()


def test_watch_selector_transitions(api: httpx.Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("t", {"env": "dc"}))
    c = Collector(f"{api.base_url}/api/v1/namespaces/{ns}/pods", {"labelSelector": "env=marvel"})
    try:
        time.sleep(0.2)
        for labels in ({"env": "marvel"}, {"env": "marvel", "x": "1"}, {"env": "dc"}):
            r = api.patch(f"/api/v1/namespaces/{ns}/pods/t", content=json.dumps({"metadata": {"labels": labels}}),
                          headers={"Content-Type": "application/merge-patch+json"})
            assert r.status_code == 200
        events = c.wait_for(3)
        assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    finally:
        c.close()


def test_watch_timeout_seconds_ends_the_stream(api: httpx.Client, ns: str) -> None:
    start = time.monotonic()
    c = Collector(f"{api.base_url}/api/v1/namespaces/{ns}/pods", {"timeoutSeconds": "1"})
    try:
        assert c.ended.wait(5)
        assert 0.9 <= time.monotonic() - start < 4
    finally:
        c.close()


def test_watch_from_compacted_revision_gets_410_error_event(tmp_path: Any) -> None:
    from tests.conftest import start_apiserver

    srv = start_apiserver(tmp_path, extra=["--keep-changes", "5"])
    try:
        with httpx.Client(base_url=srv.url) as api:
            for i in range(20):
                api.post("/api/v1/namespaces/default/pods", json=pod(f"p{i}"))
            r = api.get("/api/v1/namespaces/default/pods", params={"watch": "true", "resourceVersion": "2"})
            ev = json.loads(r.text.splitlines()[0])
            assert ev["type"] == "ERROR"
            assert ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
            assert ev["object"]["message"].startswith("too old resource version: 2 (")
    finally:
        srv.stop()


def test_bookmarks_and_parse_bool_forms(api: httpx.Client, ns: str) -> None:
    # Python client 33.x sends watch=True; a bookmark-enabled watch with sendInitialEvents ends its
    # initial state with a BOOKMARK annotated k8s.io/initial-events-end.
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("a"))
    c = Collector(f"{api.base_url}/api/v1/namespaces/{ns}/pods",
                  {"watch": "True", "allowWatchBookmarks": "true", "sendInitialEvents": "true",
                   "resourceVersionMatch": "NotOlderThan"})
    try:
        events = c.wait_for(2)
        assert [e["type"] for e in events[:2]] == ["ADDED", "BOOKMARK"]
        assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    finally:
        c.close()
