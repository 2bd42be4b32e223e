"""Table tests of the linearizability checker: histories known to be linearizable or not.

Several are ones a naive checker (replay in call order, or in return order, or treating an UNKNOWN
write as failed or as done) gets wrong.
"""

from __future__ import annotations

import pytest

from robustness.history import Op
from robustness.linearizable import check, check_key, impossible, minimize, resource_versions

K = "k"


def op(client: int, kind: str, call: float, ret: float, outcome: str, **kw: str) -> Op:
    return Op(client=client, key=kw.pop("key", K), kind=kind, call=call, ret=ret, outcome=outcome, **kw)  # type: ignore[arg-type]


CASES: list[tuple[str, list[Op], bool]] = [
    ("empty", [], True),
    ("sequential create get update get", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "get", 2, 3, "ok", read="a", rv="1"),
        op(1, "cas", 4, 5, "ok", value="b", expect_rv="1", rv="2"),
        op(1, "get", 6, 7, "ok", read="b", rv="2"),
    ], True),
    ("get of a key never created is not found", [op(1, "get", 0, 1, "not_found")], True),
    ("get reads a value nobody wrote", [op(1, "get", 0, 1, "ok", read="z", rv="9")], False),
    # a read that overlaps a write may see either side; call order alone would say "stale"
    ("overlapping read sees the new value before the write returns", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "cas", 2, 10, "ok", value="b", expect_rv="1", rv="2"),
        op(2, "get", 3, 4, "ok", read="b", rv="2"),
        op(3, "get", 5, 6, "ok", read="b", rv="2"),
    ], True),
    # two overlapping writes: the one called first must be linearized second
    ("overlapping ops must be reordered", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "put", 2, 10, "ok", value="b", rv="3"),
        op(2, "put", 3, 5, "ok", value="c", rv="2"),
        op(3, "get", 6, 7, "ok", read="c", rv="2"),
        op(3, "get", 11, 12, "ok", read="b", rv="3"),
    ], True),
    ("stale read after a completed write", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "cas", 2, 3, "ok", value="b", expect_rv="1", rv="2"),
        op(2, "get", 4, 5, "ok", read="a", rv="1"),
    ], False),
    ("read goes back in time between two reads", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "cas", 2, 20, "ok", value="b", expect_rv="1", rv="2"),
        op(2, "get", 3, 4, "ok", read="b", rv="2"),
        op(3, "get", 5, 6, "ok", read="a", rv="1"),
    ], False),
    ("two CAS on the same version both succeed", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "cas", 2, 5, "ok", value="b", expect_rv="1", rv="2"),
        op(2, "cas", 3, 6, "ok", value="c", expect_rv="1", rv="3"),
    ], False),
    ("two CAS on the same version: one wins, one conflicts", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "cas", 2, 5, "ok", value="b", expect_rv="1", rv="2"),
        op(2, "cas", 3, 6, "conflict", value="c", expect_rv="1"),
    ], True),
    ("a CAS conflicts though nobody changed the object", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(2, "cas", 2, 3, "conflict", value="c", expect_rv="1"),
    ], False),
    # an UNKNOWN write may take effect long after its client gave up...
    ("unknown write takes effect late", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "put", 2, 3, "unknown", value="b"),
        op(2, "get", 4, 5, "ok", read="a", rv="1"),
        op(2, "get", 6, 7, "ok", read="b", rv="2"),
    ], True),
    # ...or never
    ("unknown write never takes effect", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "put", 2, 3, "unknown", value="b"),
        op(2, "get", 4, 5, "ok", read="a", rv="1"),
        op(2, "cas", 6, 7, "ok", value="c", expect_rv="1", rv="3"),
        op(2, "get", 8, 9, "ok", read="c", rv="3"),
    ], True),
    ("unknown write cannot take effect before its call", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(2, "get", 2, 3, "ok", read="b", rv="2"),
        op(1, "put", 4, 5, "unknown", value="b"),
    ], False),
    ("unknown create then a conflicting create ok is fine when the unknown never happened", [
        op(1, "create", 0, 1, "unknown", value="a"),
        op(2, "create", 2, 3, "ok", value="b", rv="2"),
        op(2, "get", 4, 5, "ok", read="b", rv="2"),
    ], True),
    ("a write acknowledged is lost", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "get", 2, 3, "not_found"),
    ], False),
    ("create on an existing key must fail", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(2, "create", 2, 3, "ok", value="b", rv="2"),
    ], False),
    ("delete with a stale precondition conflicts; unconditional delete wins", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "put", 2, 3, "ok", value="b", rv="2"),
        op(2, "delete", 4, 5, "conflict", expect_rv="1"),
        op(2, "delete", 6, 7, "ok", read="b"),
        op(3, "get", 8, 9, "not_found"),
        op(3, "put", 10, 11, "not_found", value="c"),
    ], True),
    ("delete returns a value that was not current", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "put", 2, 3, "ok", value="b", rv="2"),
        op(2, "delete", 4, 5, "ok", read="a"),
    ], False),
    ("a deleted object comes back", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(2, "delete", 2, 3, "ok"),
        op(3, "get", 4, 5, "ok", read="a", rv="1"),
    ], False),
    ("CAS on a version learnt only from a read of an unknown write", [
        op(1, "create", 0, 1, "ok", value="a", rv="1"),
        op(1, "put", 2, 3, "unknown", value="b"),
        op(2, "get", 4, 5, "ok", read="b", rv="2"),
        op(2, "cas", 6, 7, "ok", value="c", expect_rv="2", rv="3"),
    ], True),
]


@pytest.mark.parametrize(("name", "ops", "expected"), CASES, ids=[c[0] for c in CASES])
def test_verdicts(name: str, ops: list[Op], expected: bool) -> None:
    assert check(ops).linearizable is expected


def test_keys_are_independent_and_the_failing_one_is_named() -> None:
    ops = [op(1, "create", 0, 1, "ok", key="x", value="x1", rv="1"),
           op(1, "create", 0, 1, "ok", key="y", value="y1", rv="2"),
           op(2, "get", 2, 3, "not_found", key="y"),
           op(2, "get", 2, 3, "ok", key="x", read="x1", rv="1")]
    result = check(ops)
    assert result.linearizable is False
    assert [k.key for k in result.keys if k.linearizable is False] == ["y"]
    assert {o.key for o in result.failing} == {"y"}


def test_one_value_under_two_versions_is_a_violation() -> None:
    ops = [op(1, "create", 0, 1, "ok", value="a", rv="1"), op(2, "get", 2, 3, "ok", read="a", rv="5")]
    assert resource_versions(ops)[1]
    assert check(ops).linearizable is False


def test_minimize_never_drops_a_write_that_took_effect() -> None:
    # dropping the create would make "cas conflicts" look impossible; the report must keep it
    ops = [op(1, "create", 0, 1, "ok", value="a", rv="1"),
           op(2, "get", 2, 3, "not_found"),
           op(3, "cas", 4, 5, "conflict", value="b", expect_rv="7")]
    rv_of = resource_versions(ops)[0]
    small = minimize(ops, rv_of)
    assert [o.kind for o in small] == ["create", "get"]


def test_an_impossible_result_is_its_own_reproduction() -> None:
    ops = [op(1, "create", 0, 1, "ok", value="a", rv="1"), op(2, "put", 2, 3, "conflict", value="b")]
    assert impossible(ops[1], {}) and not impossible(ops[0], {})
    assert not impossible(op(2, "get", 2, 3, "ok", read="a", rv="1"), {"a": "1"})
    assert not impossible(op(2, "delete", 2, 3, "ok", read="a", expect_rv="1"), {"a": "1"})
    assert impossible(op(2, "delete", 2, 3, "ok", read="a", expect_rv="2"), {"a": "1"})
    result = check(ops)
    assert result.linearizable is False
    assert result.minimal == [ops[1]]


def test_minimize_keeps_a_failing_core() -> None:
    noise = [op(3, "get", 10 + i, 10.5 + i, "ok", read="b", rv="2") for i in range(8)]
    ops = [op(1, "create", 0, 1, "ok", value="a", rv="1"),
           op(1, "cas", 2, 3, "ok", value="b", expect_rv="1", rv="2"), *noise,
           op(2, "get", 30, 31, "ok", read="a", rv="1")]
    rv_of = resource_versions(ops)[0]
    small = minimize(ops, rv_of)
    assert check_key(small, rv_of)[0] is False
    assert len(small) <= 3


def test_many_concurrent_unknown_writes_stay_tractable() -> None:
    ops = [op(1, "create", 0, 1, "ok", value="a", rv="1")]
    ops += [op(10 + i, "put", 2, 3, "unknown", value=f"u{i}") for i in range(12)]
    ops += [op(2, "get", 4, 5, "ok", read="u7", rv="20"), op(2, "get", 6, 7, "ok", read="u3", rv="21")]
    assert check(ops).linearizable is True


def test_a_budget_too_small_gives_no_verdict_rather_than_a_wrong_one() -> None:
    ops = [op(i, "put", 0, 10, "ok", value=f"v{i}", rv=str(i + 2)) for i in range(8)]
    ops.insert(0, op(0, "create", -2, -1, "ok", value="a", rv="1"))
    assert check(ops, max_steps=3).linearizable is None
