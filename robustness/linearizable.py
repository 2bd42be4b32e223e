"""Linearizability of a history of key-value operations with resourceVersion preconditions.

The model: each key is a register holding the value of its last write, or nothing. create succeeds
only on nothing; get reads; cas (update with a resourceVersion precondition) succeeds only when the
current version is the expected one; put (unconditional update) needs the object to exist; delete
(optionally with a precondition) empties the register.

The search is Wing & Gong's, with Lowe's just-in-time linearization and porcupine's memo of
(linearized set, state): walk the operations in call order, linearize any whose call came before
every pending return and whose result the model allows, backtrack when a return comes first.
Keys are checked one at a time (P-compositionality: a history is linearizable iff every key's is).

resourceVersions: a value read names its write (values are unique), so the version of every value
anyone saw is known from the replies (``resource_versions``). A client only sends versions it saw,
and versions are unique, so a write whose version nobody saw can never match a precondition.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from robustness.history import Op, by_key


class _Illegal:
    """The model's answer for an operation whose recorded result is impossible in that state."""


ILLEGAL = _Illegal()
State = str | None


@dataclass(slots=True)
class KeyResult:
    """The verdict for one key: True, False, or None when the search ran out of budget."""

    key: str
    linearizable: bool | None
    operations: int
    steps: int


@dataclass(slots=True)
class Result:
    """The verdict for a whole history, the keys that failed and a minimal failing history if any."""

    linearizable: bool | None
    operations: int
    keys: list[KeyResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failing: list[Op] = field(default_factory=list)
    minimal: list[Op] = field(default_factory=list)


def resource_versions(ops: list[Op]) -> tuple[dict[str, str], list[str]]:
    """value -> resourceVersion, from every reply that showed both; and the contradictions found.

    A contradiction (one value under two versions, one version for two values) is itself a
    violation: a version names exactly one state of one object.
    """
    rv_of: dict[str, str] = {}
    value_at: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    for op in ops:
        if op.outcome != "ok" or op.rv is None:
            continue
        value = op.value if op.kind in ("create", "cas", "put") else op.read if op.kind == "get" else None
        if value is None:
            continue
        seen = rv_of.setdefault(value, op.rv)
        if seen != op.rv:
            problems.append(f"value {value} of {op.key} seen at resourceVersion {seen} and {op.rv}")
        other = value_at.setdefault(op.rv, (op.key, value))
        if other != (op.key, value):
            problems.append(f"resourceVersion {op.rv} names {other[0]}={other[1]} and {op.key}={value}")
    return rv_of, problems


def step(state: State, op: Op, rv_of: dict[str, str]) -> State | _Illegal:
    """The register's state after ``op``, or ILLEGAL when ``op``'s recorded result is impossible in ``state``.

    An UNKNOWN op never is ILLEGAL: it does what it would do in ``state``; "never took effect" is
    covered by linearizing it after everything else (its return is at infinity).
    """
    exists = state is not None
    matches = exists and op.expect_rv is not None and rv_of.get(state or "") == op.expect_rv
    o = op.outcome
    if op.kind == "create":
        if o == "ok":
            return op.value if not exists else ILLEGAL
        if o == "exists":
            return state if exists else ILLEGAL
        if o == "unknown":
            return state if exists else op.value
        return ILLEGAL
    if op.kind == "get":
        if o == "ok":
            return state if exists and state == op.read else ILLEGAL
        if o == "not_found":
            return state if not exists else ILLEGAL
        return state if o == "unknown" else ILLEGAL
    if op.kind == "cas":
        if o == "ok":
            return op.value if matches else ILLEGAL
        if o == "conflict":
            return state if exists and not matches else ILLEGAL
        if o == "not_found":
            return state if not exists else ILLEGAL
        if o == "unknown":
            return op.value if matches else state
        return ILLEGAL
    if op.kind == "put":
        if o == "ok":
            return op.value if exists else ILLEGAL
        if o == "not_found":
            return state if not exists else ILLEGAL
        if o == "unknown":
            return op.value if exists else state
        return ILLEGAL
    # delete
    allowed = exists and (op.expect_rv is None or matches)
    if o == "ok":
        return None if allowed and (op.read is None or op.read == state) else ILLEGAL
    if o == "conflict":
        return state if exists and op.expect_rv is not None and not matches else ILLEGAL
    if o == "not_found":
        return state if not exists else ILLEGAL
    if o == "unknown":
        return None if allowed else state
    return ILLEGAL


def check_key(ops: list[Op], rv_of: dict[str, str], *, initial: State = None,
              max_steps: int = 2_000_000) -> tuple[bool | None, int]:
    """(verdict, steps) for the operations on one key; verdict None when ``max_steps`` ran out.

    Entries (calls and returns) sit in a doubly linked list in time order; at equal times calls come
    first (overlapping is the lenient reading). Linearizing an op lifts its call and return out of
    the list; backtracking puts them back (dancing links, last out first in).
    """
    ops = [op for op in ops if not (op.kind == "get" and op.outcome == "unknown")]  # a lost read says nothing
    entries = sorted(
        [(op.call, 0, i) for i, op in enumerate(ops)]
        + [(math.inf if op.outcome == "unknown" else op.ret, 1, i) for i, op in enumerate(ops)])
    m = len(entries)
    nxt = [*range(1, m + 1), -1]  # node 0 is the head; node j+1 holds entries[j]
    prv = [-1, *range(m)]
    is_call = [False] + [e[1] == 0 for e in entries]
    op_of = [-1] + [e[2] for e in entries]
    call_node = [0] * len(ops)
    ret_node = [0] * len(ops)
    for j, (_, kind, i) in enumerate(entries, start=1):
        if kind == 0:
            call_node[i] = j
        else:
            ret_node[i] = j

    def unlink(node: int) -> None:
        nxt[prv[node]] = nxt[node]
        if nxt[node] != -1:
            prv[nxt[node]] = prv[node]

    def relink(node: int) -> None:
        nxt[prv[node]] = node
        if nxt[node] != -1:
            prv[nxt[node]] = node

    state: State = initial
    linearized = 0
    seen: set[tuple[int, State]] = set()
    stack: list[tuple[int, State]] = []
    entry = nxt[0]
    steps = 0
    while nxt[0] != -1:
        steps += 1
        if steps > max_steps:
            return None, steps
        if is_call[entry]:
            i = op_of[entry]
            new = step(state, ops[i], rv_of)
            if not isinstance(new, _Illegal):
                done = linearized | (1 << i)
                if (done, new) not in seen:
                    seen.add((done, new))
                    stack.append((i, state))
                    state, linearized = new, done
                    unlink(call_node[i])
                    unlink(ret_node[i])
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
        else:
            if not stack:
                return False, steps
            i, state = stack.pop()
            linearized &= ~(1 << i)
            relink(ret_node[i])
            relink(call_node[i])
            entry = nxt[call_node[i]]
    return True, steps


def impossible(op: Op, rv_of: dict[str, str]) -> bool:
    """Whether ``op``'s result is impossible in every state (say an unconditional update answered 409).

    The states tried cover every case the model distinguishes: absent, present at a version the
    client did not expect, present at the version it expected, holding the value it read.
    """
    matching = next((v for v, rv in rv_of.items() if rv == op.expect_rv), None) if op.expect_rv else None
    states: list[State] = [None, "\0unseen", *(v for v in (matching, op.read) if v is not None)]
    return all(isinstance(step(s, op, rv_of), _Illegal) for s in states)


def _read_only(op: Op) -> bool:
    """An op that cannot have changed the register: dropping it only removes a constraint."""
    return op.kind == "get" or op.outcome in ("exists", "not_found", "conflict")


def truncate(ops: list[Op], at: float) -> list[Op]:
    """The history as it stood at time ``at``: ops called later dropped, ops still pending made UNKNOWN.

    Sound for finding where a history fails: if the whole history is linearizable, so is every
    truncation (an op linearized after ``at`` was pending at ``at``, so its result is free here).
    """
    out = []
    for op in ops:
        if op.call > at:
            continue
        if op.ret > at and op.outcome != "unknown":
            op = Op(client=op.client, key=op.key, kind=op.kind, call=op.call, ret=op.ret, outcome="unknown",
                    value=op.value, expect_rv=op.expect_rv)
        out.append(op)
    return out


def minimize(ops: list[Op], rv_of: dict[str, str], *, budget_seconds: float = 10.0,
             max_steps: int = 200_000) -> list[Op]:
    """A smaller history of one key that is still not linearizable, for the report.

    An op whose result no state allows is the whole story on its own. Otherwise: the shortest
    failing prefix (``truncate``), then ops that changed nothing (reads, refused writes) are
    dropped one by one while the rest stays non-linearizable;
    writes that may have taken effect stay, as dropping one could make a correct history look
    wrong. Stops at ``budget_seconds`` with what it has.
    """
    alone = [op for op in ops if impossible(op, rv_of)]
    if alone:
        return alone[:1]
    deadline = time.monotonic() + budget_seconds
    # the shortest failing prefix: the violation is at its end
    times = sorted({op.ret for op in ops if op.outcome != "unknown"})
    lo, hi = 0, len(times) - 1
    while lo < hi and time.monotonic() < deadline:
        mid = (lo + hi) // 2
        if check_key(truncate(ops, times[mid]), rv_of, max_steps=max_steps)[0] is False:
            hi = mid
        else:
            lo = mid + 1
    current = truncate(ops, times[hi]) if times else list(ops)
    if check_key(current, rv_of, max_steps=max_steps)[0] is not False:
        current = list(ops)
    i = len(current) - 1
    while i >= 0 and time.monotonic() < deadline:
        if _read_only(current[i]):
            trial = current[:i] + current[i + 1:]
            if check_key(trial, rv_of, max_steps=max_steps)[0] is False:
                current = trial
        i -= 1
    return current


def check(ops: list[Op], *, initial: dict[str, State] | None = None, max_steps: int = 2_000_000,
          minimize_seconds: float = 10.0) -> Result:
    """Check a whole history, key by key; on failure keep the failing key's history and a minimal one."""
    rv_of, problems = resource_versions(ops)
    result = Result(linearizable=not problems, operations=len(ops), problems=problems)
    for key, key_ops in sorted(by_key(ops).items()):
        verdict, steps = check_key(key_ops, rv_of, initial=(initial or {}).get(key), max_steps=max_steps)
        result.keys.append(KeyResult(key, verdict, len(key_ops), steps))
        if verdict is False:
            result.linearizable = False
            if not result.failing:
                result.failing = key_ops
                result.minimal = minimize(key_ops, rv_of, budget_seconds=minimize_seconds)
            result.problems.append(f"operations on {key} are not linearizable")
        elif verdict is None:
            if result.linearizable:
                result.linearizable = None
            result.problems.append(f"{key}: search gave up after {steps} steps (no verdict)")
    return result
