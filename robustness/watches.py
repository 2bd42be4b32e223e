"""Watch guarantees, checked on what every watcher received.

A watcher is a chain of sessions: a session starts from a resourceVersion (the last one the watcher
saw, or a fresh list's after a 410) and ends closed, broken, or with 410 Gone. What must hold:

- ordered: in a session, event resourceVersions strictly increase and all are after its start;
- unique: a watcher never receives the same resourceVersion twice (across its sessions too);
- agreed: every watcher that received resourceVersion R received the same change (type, key,
  value), and it matches the acknowledged write that got R;
- resumable and reliable: a session started from R receives exactly the changes after R, in
  order, with none skipped; the changes are the union of what every watcher received and every
  acknowledged write, so a change acknowledged to a client but missing from a stream is a gap;
  a 410 is the only allowed way out (never a silent gap);
- bookmarks never run ahead: a bookmark at B comes after every change up to B;
- complete: with ``through`` given, every watcher got (event or bookmark) to at least ``through``.

resourceVersions are compared as integers: kubelite's are its store's revision numbers.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Literal

End = Literal["closed", "broken", "gone", "running"]


@dataclass(frozen=True, slots=True)
class Event:
    """One watch event: ADDED/MODIFIED/DELETED carry the key and the value; BOOKMARK only its version."""

    type: str
    rv: int
    key: str | None = None
    value: str | None = None

    def change(self) -> tuple[str, str | None, str | None]:
        return self.type, self.key, self.value


@dataclass(slots=True)
class Session:
    """One watch request of one watcher, from ``start_rv`` to its end."""

    watcher: int
    start_rv: int
    events: list[Event] = field(default_factory=list)
    end: End = "running"

    def to_json(self) -> dict[str, Any]:
        return {"watcher": self.watcher, "start_rv": self.start_rv, "end": self.end,
                "events": [[e.type, e.rv, e.key, e.value] for e in self.events]}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Session:
        return cls(doc["watcher"], doc["start_rv"], [Event(*e) for e in doc["events"]], doc["end"])


@dataclass(frozen=True, slots=True)
class Write:
    """An acknowledged write as the client saw it: the change it must cause in every watch."""

    rv: int
    type: str
    key: str
    value: str | None


def check(sessions: list[Session], writes: list[Write], *, through: int | None = None) -> list[str]:
    """Every violated watch guarantee, one line each; [] when all hold."""
    problems: list[str] = []
    truth: dict[int, tuple[str, str | None, str | None]] = {}
    for w in writes:
        truth.setdefault(w.rv, (w.type, w.key, w.value))
    for s in sessions:
        for e in s.events:
            if e.type == "BOOKMARK":
                continue
            known = truth.setdefault(e.rv, e.change())
            if known != e.change():
                problems.append(f"watcher {s.watcher}: resourceVersion {e.rv} is {e.change()} here, {known} elsewhere")
    order = sorted(truth)
    received: dict[int, set[int]] = {}
    progress: dict[int, int] = {}
    for s in sessions:
        problems += _check_session(s, order, received.setdefault(s.watcher, set()))
        last = max([s.start_rv, *(e.rv for e in s.events)])
        progress[s.watcher] = max(progress.get(s.watcher, last), last)
    if through is not None:
        for watcher, reached in sorted(progress.items()):
            if reached < through:
                problems.append(f"watcher {watcher} reached resourceVersion {reached}, not {through}")
    return problems


def _check_session(s: Session, order: list[int], received: set[int]) -> list[str]:
    problems: list[str] = []
    who = f"watcher {s.watcher} (from {s.start_rv})"
    nxt = bisect.bisect_right(order, s.start_rv)  # index of the next change this session owes
    last_event = s.start_rv
    for e in s.events:
        if e.type == "BOOKMARK":
            if e.rv < last_event:
                problems.append(f"{who}: bookmark {e.rv} after event {last_event}")
            if nxt < len(order) and order[nxt] <= e.rv:
                problems.append(f"{who}: bookmark {e.rv} before change {order[nxt]}")
            continue
        if e.rv <= last_event:
            problems.append(f"{who}: event {e.rv} after {last_event} (out of order or not after the start)")
            continue
        if e.rv in received:
            problems.append(f"{who}: resourceVersion {e.rv} received twice")
        received.add(e.rv)
        skipped = []
        while nxt < len(order) and order[nxt] < e.rv:
            skipped.append(order[nxt])
            nxt += 1
        if skipped:
            problems.append(f"{who}: skipped changes {skipped[:5]}{'...' if len(skipped) > 5 else ''} before {e.rv}")
        if nxt < len(order) and order[nxt] == e.rv:
            nxt += 1
        last_event = e.rv
    return problems
