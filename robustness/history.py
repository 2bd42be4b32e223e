"""Operation records: what one client asked, when, and what it learnt (or that it learnt nothing).

Why an explicit UNKNOWN outcome: a write whose reply never came (timeout, connection lost, server
killed) may or may not have taken effect; recording it as failed would make the checker reject a
correct server, recording it as done would make it accept a lost write. The checker lets an UNKNOWN
write take effect at any moment after its call, or never.

Every written value is unique in a run (the traffic writes "<client>-<seq>"), so a value read names
the one write that produced it; that is what lets the checker follow resourceVersions it never saw
returned (see ``linearizable.resource_versions``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["create", "get", "cas", "put", "delete"]
Outcome = Literal["ok", "exists", "not_found", "conflict", "unknown"]
KINDS: tuple[Kind, ...] = ("create", "get", "cas", "put", "delete")
OUTCOMES: tuple[Outcome, ...] = ("ok", "exists", "not_found", "conflict", "unknown")


@dataclass(frozen=True, slots=True)
class Op:
    """One operation on one key.

    ``value``: what a create/cas/put wrote. ``expect_rv``: the resourceVersion precondition of a cas
    or a delete (None: unconditional delete). ``rv``: the resourceVersion returned (new version of
    an ok write, version read by an ok get). ``read``: the value an ok get read, or the value an ok
    delete returned (None when the reply did not say). ``ret``: when the client got its reply or
    gave up; an UNKNOWN op's effect may come later than that.
    """

    client: int
    key: str
    kind: Kind
    call: float
    ret: float
    outcome: Outcome
    value: str | None = None
    expect_rv: str | None = None
    rv: str | None = None
    read: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown operation kind {self.kind!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.ret < self.call:
            raise ValueError(f"operation returns ({self.ret}) before its call ({self.call})")
        if self.kind in ("create", "cas", "put") and self.value is None:
            raise ValueError(f"a {self.kind} writes a value")
        if self.kind == "cas" and self.expect_rv is None:
            raise ValueError("a cas has a resourceVersion precondition")

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Op:
        return cls(**doc)

    def describe(self) -> str:
        """One line a person can read in a failure report."""
        args = ", ".join(f"{k}={v}" for k, v in (("value", self.value), ("if_rv", self.expect_rv)) if v is not None)
        got = ", ".join(f"{k}={v}" for k, v in (("rv", self.rv), ("read", self.read)) if v is not None)
        return (f"[{self.call:.4f}, {self.ret:.4f}] client {self.client} {self.kind}({self.key}"
                f"{', ' + args if args else ''}) -> {self.outcome}{' ' + got if got else ''}")


def by_key(ops: list[Op]) -> dict[str, list[Op]]:
    """The history split per key: keys are independent registers, so each is checked alone."""
    out: dict[str, list[Op]] = {}
    for op in ops:
        out.setdefault(op.key, []).append(op)
    return out
