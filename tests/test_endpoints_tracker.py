"""controllers.endpoints.tracker and triggertime: the state the endpoints controller keeps between syncs."""

from __future__ import annotations

from typing import Any

import pytest

from apimachinery.timestamps import format_rfc3339_nano, parse_time
from controllers.endpoints.tracker import WriteTracker
from controllers.endpoints.triggertime import TriggerTimeTracker

Obj = dict[str, Any]


def obj(name: str, rv: str | None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns"}
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"metadata": meta}


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_cache_behind_our_write_is_stale_until_it_catches_up() -> None:
    clock = Clock()
    tr = WriteTracker(ttl=30, clock=clock)
    tr.wrote("ns/svc", "endpoints", obj("svc", "10"))
    cache: dict[tuple[str, str, str], Obj] = {("endpoints", "ns", "svc"): obj("svc", "9")}

    def lookup(r: str, n: str, name: str) -> Obj | None:
        return cache.get((r, n, name))

    assert tr.stale("ns/svc", lookup)
    assert not tr.stale("ns/other", lookup)
    cache[("endpoints", "ns", "svc")] = obj("svc", "10")
    assert not tr.stale("ns/svc", lookup)
    assert len(tr) == 0  # met expectations are dropped


def test_deletes_and_ttl() -> None:
    clock = Clock()
    tr = WriteTracker(ttl=5, clock=clock)
    tr.deleted("ns/svc", "endpointslices", "ns", "svc-abc")
    present = {("endpointslices", "ns", "svc-abc"): obj("svc-abc", "3")}
    assert tr.stale("ns/svc", lambda r, n, name: present.get((r, n, name)))
    clock.t = 6
    assert not tr.stale("ns/svc", lambda r, n, name: present.get((r, n, name)))  # given up: someone else acted


@pytest.mark.parametrize(("event_rv", "deleted", "own", "left"), [
    ("10", False, True, 0), ("11", False, False, 0), ("9", False, False, 1), (None, True, False, 0),
], ids=["echo", "newer", "older", "deleted-by-someone"])
def test_observed_recognises_our_echo(event_rv: str | None, deleted: bool, own: bool, left: int) -> None:
    tr = WriteTracker()
    tr.wrote("ns/svc", "endpoints", obj("svc", "10"))
    assert tr.observed("endpoints", obj("svc", event_rv), deleted=deleted) is own
    assert len(tr) == left


def test_observed_delete_echo() -> None:
    tr = WriteTracker()
    tr.deleted("ns/svc", "endpoints", "ns", "svc")
    assert tr.observed("endpoints", obj("svc", "12"), deleted=True)
    assert not tr.observed("endpoints", obj("other", "12"), deleted=True)


@pytest.mark.parametrize(("text", "formatted"), [
    ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
    ("2024-01-01T00:00:00.500000Z", "2024-01-01T00:00:00.5Z"),
    ("2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z"),
])
def test_rfc3339_nano(text: str, formatted: str) -> None:
    t = parse_time(text)
    assert t is not None and format_rfc3339_nano(t) == formatted


def _pod(name: str, ready_at: str) -> Obj:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}]}}


def test_trigger_time_tracker() -> None:
    svc = {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}}
    tt = TriggerTimeTracker()
    a = _pod("a", "2024-01-01T00:00:05Z")
    assert tt.compute("ns/s", svc, [a]) == "2024-01-01T00:00:00Z"  # first sync: the Service's creation
    assert tt.compute("ns/s", svc, [a]) is None  # nothing changed since
    b = _pod("b", "2024-01-01T00:00:09Z")
    a2 = _pod("a", "2024-01-01T00:00:07Z")
    assert tt.compute("ns/s", svc, [a2, b]) == "2024-01-01T00:00:07Z"  # the earliest change not yet seen
    tt.delete("ns/s")
    assert tt.compute("ns/s", svc, [a2, b]) == "2024-01-01T00:00:00Z"
