"""agents.node.ipam: pod IPs from the podCIDR, never shared, recycled round robin, rebuilt from the API."""

from __future__ import annotations

import pytest

from agents.node.ipam import PodIPAllocator, PoolExhausted


@pytest.mark.parametrize(("cidr", "first", "capacity"), [
    ("10.85.0.0/24", "10.85.0.2", 253),
    ("10.85.1.0/29", "10.85.1.2", 5),
    ("fd00:85::/120", "fd00:85::2", 254),
], ids=["v4-24", "v4-29", "v6"])
def test_first_address_and_capacity(cidr: str, first: str, capacity: int) -> None:
    ipam = PodIPAllocator(cidr)
    assert ipam.allocate("a") == first
    assert ipam.capacity == capacity


def test_same_pod_keeps_its_address_and_no_two_pods_share_one() -> None:
    ipam = PodIPAllocator("10.85.0.0/29")  # .2 .. .6
    got = [ipam.allocate(u) for u in "abcde"]
    assert got == ["10.85.0.2", "10.85.0.3", "10.85.0.4", "10.85.0.5", "10.85.0.6"]
    assert ipam.allocate("c") == "10.85.0.4"
    with pytest.raises(PoolExhausted):
        ipam.allocate("f")


def test_released_address_is_recycled_round_robin_not_at_once() -> None:
    ipam = PodIPAllocator("10.85.0.0/29")
    for u in "abc":
        ipam.allocate(u)
    assert ipam.release("a") == "10.85.0.2"
    assert ipam.allocate("d") == "10.85.0.5"  # not .2 right away
    assert ipam.allocate("e") == "10.85.0.6"
    assert ipam.allocate("f") == "10.85.0.2"  # wrapped: recycled
    assert ipam.holder("10.85.0.2") == "f"


@pytest.mark.parametrize(("ip", "ok"), [
    ("10.85.0.7", True), ("10.85.0.0", False), ("10.85.0.1", False), ("10.85.0.255", False),
    ("10.86.0.7", False), ("fd00::7", False), ("garbage", False),
], ids=["inside", "network", "gateway", "broadcast", "other-net", "other-family", "garbage"])
def test_observe_range(ip: str, ok: bool) -> None:
    assert PodIPAllocator("10.85.0.0/24").observe("a", ip) is ok


def test_rebuilt_from_api_state_after_restart() -> None:
    ipam = PodIPAllocator("10.85.0.0/24")
    assert ipam.observe("a", "10.85.0.2") and ipam.observe("b", "10.85.0.9")
    assert not ipam.observe("c", "10.85.0.9")  # held by b: refused
    ipam.resume_after_highest()
    assert ipam.allocate("c") == "10.85.0.10"
    assert ipam.allocate("a") == "10.85.0.2"
    assert ipam.ip_of("b") == "10.85.0.9"
