"""Table tests of the watch-guarantee checks: streams that keep them and streams that break each one."""

from __future__ import annotations

import pytest

from robustness.watches import Event, Session, Write, check


def ev(rv: int, key: str = "k", value: str | None = None, type: str = "MODIFIED") -> Event:
    return Event(type, rv, key, value if value is not None else f"v{rv}")


def bm(rv: int) -> Event:
    return Event("BOOKMARK", rv)


WRITES = [Write(2, "ADDED", "k", "v2"), Write(4, "MODIFIED", "k", "v4"), Write(7, "MODIFIED", "k", "v7")]
ALL = [ev(2, type="ADDED"), ev(4), ev(7)]

CASES: list[tuple[str, list[Session], list[str]]] = [
    ("one watcher sees everything", [Session(1, 0, ALL, "running")], []),
    ("resumed from the last version sees exactly the rest",
     [Session(1, 0, ALL[:1], "broken"), Session(1, 2, ALL[1:], "running")], []),
    ("resumed from a version in the middle of nothing", [Session(1, 5, [ev(7)], "running")], []),
    ("bookmark after the events it covers", [Session(1, 0, [*ALL[:2], bm(5), ALL[2], bm(9)], "running")], []),
    ("410 then relist: the gap is allowed", [Session(1, 0, ALL[:1], "gone"), Session(1, 6, [ev(7)], "running")], []),
    ("out of order", [Session(1, 0, [ALL[1], ALL[0], ALL[2]], "running")], ["out of order"]),
    ("event not after the start", [Session(1, 4, [ALL[1], ALL[2]], "running")], ["out of order"]),
    ("duplicate across a resume", [Session(1, 0, ALL[:2], "broken"), Session(1, 2, ALL[1:], "running")],
     ["received twice"]),
    ("acknowledged write missing from a stream", [Session(1, 0, [ALL[0], ALL[2]], "running")], ["skipped changes [4]"]),
    ("change seen by another watcher missing here", [
        Session(1, 0, [*ALL[:2], ev(5, key="j"), ALL[2]], "running"),
        Session(2, 0, ALL, "running")], ["watcher 2 (from 0): skipped changes [5]"]),
    ("resumed watch misses the first change after its start", [
        Session(1, 0, ALL[:1], "broken"), Session(1, 2, ALL[2:], "running")], ["skipped changes [4]"]),
    ("bookmark ahead of an event", [Session(1, 0, [ALL[0], bm(5), ALL[1], ALL[2]], "running")],
     ["bookmark 5 before change 4"]),
    ("bookmark going backwards", [Session(1, 0, [*ALL, bm(3)], "running")], ["bookmark 3 after event 7"]),
    ("two watchers disagree on a change", [
        Session(1, 0, ALL, "running"), Session(2, 0, [ALL[0], ev(4, value="other"), ALL[2]], "running")],
     ["resourceVersion 4 is"]),
    ("event contradicts the acknowledged write", [Session(1, 0, [ALL[0], ALL[1], ev(7, value="x")], "running")],
     ["resourceVersion 7 is"]),
]


@pytest.mark.parametrize(("name", "sessions", "expected"), CASES, ids=[c[0] for c in CASES])
def test_watch_checks(name: str, sessions: list[Session], expected: list[str]) -> None:
    problems = check(sessions, WRITES)
    if not expected:
        assert problems == []
    else:
        assert problems, "a broken guarantee went unnoticed"
        for fragment in expected:
            assert any(fragment in p for p in problems), problems


def test_a_watcher_that_stops_short_of_the_end_is_reported() -> None:
    assert check([Session(1, 0, ALL[:2], "running")], WRITES, through=7) == [
        "watcher 1 reached resourceVersion 4, not 7"]
    assert check([Session(1, 0, [*ALL[:2], bm(8)], "running")], WRITES, through=7) == [
        "watcher 1 (from 0): bookmark 8 before change 7"]
    assert check([Session(1, 0, ALL, "running")], WRITES, through=7) == []


def test_sessions_round_trip_through_json() -> None:
    s = Session(3, 1, [*ALL, bm(9)], "gone")
    assert Session.from_json(s.to_json()) == s
