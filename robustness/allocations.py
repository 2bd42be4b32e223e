"""The allocation invariant: no ClusterIP and no NodePort held by two Services at once.

Checked on a watch stream of Services in resourceVersion order (one consistent order of every
change): a Service holds its values from the event that shows them until the event that shows
them gone (changed, or the Service DELETED). A value shown on a Service while another holds it is
a collision, whoever allocated it (API server, ipam controllers fighting over a Lease).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def held(service: Mapping[str, Any]) -> set[str]:
    """What a Service holds: "ip:<clusterIP>" per cluster IP, "port:<nodePort>" per node port."""
    spec = service.get("spec") or {}
    out = {f"ip:{ip}" for ip in [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])]
           if ip and ip != "None"}
    out |= {f"port:{p['nodePort']}" for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")}
    return out


def check(events: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Every collision in a Service watch stream ``(type, object)`` in resourceVersion order; [] if none."""
    owner: dict[str, str] = {}
    holding: dict[str, set[str]] = {}
    problems: list[str] = []
    for etype, obj in events:
        meta = obj.get("metadata") or {}
        who = f"{meta.get('namespace')}/{meta.get('name')}"
        now = set() if etype == "DELETED" else held(obj)
        for value in holding.get(who, set()) - now:
            if owner.get(value) == who:
                del owner[value]
        for value in now:
            other = owner.get(value)
            if other is not None and other != who:
                problems.append(f"{value.replace(':', ' ', 1)} held by {other} and {who} at resourceVersion "
                                f"{meta.get('resourceVersion')}")
            owner[value] = who
        holding[who] = now
    return problems
