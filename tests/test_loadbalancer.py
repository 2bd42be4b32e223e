"""The LoadBalancer controller's pool and its choice of address."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.loadbalancer import LoadBalancerController, Pool, is_ours


@pytest.mark.parametrize(("specs", "first", "count"), [
    (["127.20.0.0/24"], "127.20.0.1", 254),  # network and broadcast skipped
    (["127.20.0.10-127.20.0.12"], "127.20.0.10", 3),
    (["127.20.0.4/31"], "127.20.0.4", 2),
    (["127.20.0.0/30", "127.20.1.5-127.20.1.5"], "127.20.0.1", 3),
])
def test_pool(specs: list[str], first: str, count: int) -> None:
    pool = Pool(specs)
    ips = list(pool)
    assert ips[0] == first and len(ips) == count and pool.is_loopback()
    assert ips[-1] in pool and "127.21.0.1" not in pool


@pytest.mark.parametrize("bad", [["127.20.0.9-127.20.0.1"], [], ["nope"]])
def test_bad_pools(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        Pool(bad)


def test_non_loopback_pools_are_detected() -> None:
    assert not Pool(["10.0.0.0/24"]).is_loopback()


def controller(pool: list[str]) -> LoadBalancerController:
    c = LoadBalancerController.__new__(LoadBalancerController)
    c.pool, c.lb_class, c.holder, c.held = Pool(pool), None, {}, {}
    return c


def test_choose() -> None:
    c = controller(["127.20.0.1-127.20.0.3"])
    assert c.choose("ns/a", "") == ("127.20.0.1", "")
    c._hold("ns/a", "127.20.0.1")
    assert c.choose("ns/a", "") == ("127.20.0.1", "")  # keeps its address
    assert c.choose("ns/b", "") == ("127.20.0.2", "")
    assert c.choose("ns/b", "127.20.0.3") == ("127.20.0.3", "")
    assert c.choose("ns/b", "127.20.0.1") == (None, 'Failed to allocate IP for "ns/b": "127.20.0.1" is already in '
                                                    "use by ns/a")
    assert c.choose("ns/b", "127.30.0.1") == (None, 'Failed to allocate IP for "ns/b": ["127.30.0.1"] is not allowed '
                                                    "in config")
    c._hold("ns/b", "127.20.0.2")
    c._hold("ns/c", "127.20.0.3")
    assert c.choose("ns/d", "") == (None, 'Failed to allocate IP for "ns/d": no available IPs')
    assert c.release("ns/b") == "127.20.0.2"
    assert c.choose("ns/d", "") == ("127.20.0.2", "")


@pytest.mark.parametrize(("spec", "cls", "ours"), [
    ({"type": "LoadBalancer"}, None, True),
    ({"type": "NodePort"}, None, False),
    ({"type": "LoadBalancer", "loadBalancerClass": "example.com/cloud"}, None, False),
    ({"type": "LoadBalancer", "loadBalancerClass": "kubelite.io/lb"}, "kubelite.io/lb", True),
    ({"type": "LoadBalancer"}, "kubelite.io/lb", False),
])
def test_is_ours(spec: dict[str, Any], cls: str | None, ours: bool) -> None:
    assert is_ours({"spec": spec}, cls) == ours
