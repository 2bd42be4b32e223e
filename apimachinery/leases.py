"""kubelite's controller leader Leases: their names, and whether a Lease says its holder is acting.

Why one home: the API server's allocation wait (is an allocator there to wait for?), the
controller processes (which Lease to hold) and the diagnosis (is the endpoints controller
running?) must agree on the Lease's name and on what "held" means: a holder, and a renewal
within leaseDurationSeconds of now (a released Lease has no holder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apimachinery.kinds.printing import human_duration
from apimachinery.objects import as_map, as_str, meta_of, name_of
from apimachinery.timestamps import parse_time

LEASE_NAMESPACE = "kube-system"
DEFAULT_LEASE_DURATION = 15.0


def controller_lease_name(controller: str) -> str:
    """The leader Lease a kubelite controller process holds in kube-system while it acts."""
    return f"kubelite-{controller}"


@dataclass(frozen=True)
class LeaseHealth:
    """A controller's leader Lease as seen at ``now``: ``state`` is held, expired, released or missing."""

    controller: str
    state: str
    holder: str = ""
    seconds: float = 0.0  # held: since the last renewal; expired/released: since it ran out

    @property
    def running(self) -> bool:
        return self.state == "held"

    @property
    def name(self) -> str:
        return controller_lease_name(self.controller)

    def describe(self) -> str:
        where = f"{LEASE_NAMESPACE}/{self.name}"
        secs = human_duration(self.seconds)
        if self.state == "missing":
            return f"the {self.controller} controller holds no Lease {where} (it never ran with leader election)"
        if self.state == "released":
            return f"the {self.controller} controller is not running (Lease {where} released {secs} ago)"
        if self.state == "expired":
            return (f"the {self.controller} controller is not running (Lease {where} held by {self.holder} "
                    f"expired {secs} ago)")
        return f"the {self.controller} controller is running (Lease {where} held by {self.holder}, renewed {secs} ago)"


def _health(controller: str, lease: Mapping[str, Any], now: datetime) -> LeaseHealth:
    spec = as_map(lease.get("spec"))
    holder = as_str(spec.get("holderIdentity"))
    renewed = parse_time(spec.get("renewTime") or spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    duration_s = (float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool)
                  else DEFAULT_LEASE_DURATION)
    since = (now - renewed).total_seconds() if renewed is not None else None
    if not holder:
        return LeaseHealth(controller, "released", seconds=max(0.0, since or 0.0))
    if since is None or since >= duration_s:
        return LeaseHealth(controller, "expired", holder, max(0.0, (since or duration_s) - duration_s))
    return LeaseHealth(controller, "held", holder, max(0.0, since))


def lease_health(controller: str, leases: Sequence[Mapping[str, Any]], now: datetime) -> LeaseHealth:
    """Is the controller's leader acting? A Lease renewed within leaseDurationSeconds of ``now`` says so."""
    name = controller_lease_name(controller)
    lease = next((x for x in leases if name_of(x) == name
                  and as_str(meta_of(x).get("namespace")) == LEASE_NAMESPACE), None)
    if lease is None:
        return LeaseHealth(controller, "missing")
    return _health(controller, lease, now)


def lease_held(lease: Mapping[str, Any] | None, now: datetime) -> bool:
    """The Lease has a holder who renewed it within its duration (a released Lease has none)."""
    return lease is not None and _health("", lease, now).running
