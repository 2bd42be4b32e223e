"""Pod IP allocation from a Node's podCIDR (host-local IPAM, rebuilt from the API).

Invariants:
- an address is held by at most one Pod (UID) at a time, and is never handed
  out while held;
- allocation is round robin from the last address given out, so a released
  address is not reused at once (a late packet for the old Pod does not reach
  a new one) but is recycled eventually;
- the state is derived from the API: on start the agent ``observe``s every
  Pod of its Node that has an IP, and the cursor resumes after the highest
  address held, so a restart neither forgets nor duplicates an address.

The network address and the first host address (the bridge/gateway of a
kubenet-style node) are never given out, nor the IPv4 broadcast address:
the first Pod of ``10.85.0.0/24`` gets ``10.85.0.2``.
"""

from __future__ import annotations

import ipaddress


class PoolExhausted(Exception):
    """Every address of the podCIDR is held."""


class PodIPAllocator:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        size = self.network.num_addresses
        self._first = 2 if size > 4 else 0
        self._last = size - (2 if self.network.version == 4 and size > 4 else 1)
        if self._last < self._first:
            raise ValueError(f"podCIDR {cidr} has no usable address")
        self._by_uid: dict[str, int] = {}
        self._by_offset: dict[int, str] = {}
        self._cursor = self._first - 1

    @property
    def capacity(self) -> int:
        return self._last - self._first + 1

    def __len__(self) -> int:
        return len(self._by_uid)

    def _offset(self, ip: str) -> int | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr.version != self.network.version or addr not in self.network:
            return None
        off = int(addr) - int(self.network.network_address)
        return off if self._first <= off <= self._last else None

    def _ip(self, offset: int) -> str:
        return str(self.network.network_address + offset)

    def holder(self, ip: str) -> str | None:
        off = self._offset(ip)
        return None if off is None else self._by_offset.get(off)

    def ip_of(self, uid: str) -> str | None:
        off = self._by_uid.get(uid)
        return None if off is None else self._ip(off)

    def observe(self, uid: str, ip: str) -> bool:
        """Record that the API shows ``ip`` on Pod ``uid``; False if outside the range or held by another Pod."""
        off = self._offset(ip)
        if off is None:
            return False
        owner = self._by_offset.get(off)
        if owner is not None and owner != uid:
            return False
        old = self._by_uid.get(uid)
        if old is not None and old != off:
            self._by_offset.pop(old, None)
        self._by_uid[uid] = off
        self._by_offset[off] = uid
        return True

    def resume_after_highest(self) -> None:
        """After the initial ``observe``s: continue the round robin after the highest held address."""
        if self._by_offset:
            self._cursor = max(self._by_offset)

    def allocate(self, uid: str) -> str:
        """The Pod's address: the one it holds, else the next free one after the cursor."""
        held = self._by_uid.get(uid)
        if held is not None:
            return self._ip(held)
        span = self.capacity
        for step in range(1, span + 1):
            off = self._first + (self._cursor - self._first + step) % span
            if off not in self._by_offset:
                self._cursor = off
                self._by_uid[uid] = off
                self._by_offset[off] = uid
                return self._ip(off)
        raise PoolExhausted(f"no free address left in {self.network}")

    def release(self, uid: str) -> str | None:
        off = self._by_uid.pop(uid, None)
        if off is None:
            return None
        self._by_offset.pop(off, None)
        return self._ip(off)
