"""The scheduler reads a Node's pod capacity as a Quantity (the API stores 5000 as "5k")."""

from __future__ import annotations

import pytest

from agents.node.scheduler import node_capacity


@pytest.mark.parametrize(("status", "expected"), [
    ({"allocatable": {"pods": "5k"}, "capacity": {"pods": "6k"}}, 5000),
    ({"capacity": {"pods": "1100"}}, 1100),
    ({"allocatable": {"pods": 42}}, 42),
    ({}, 110),
    ({"allocatable": {"pods": "lots"}}, 110),
])
def test_node_capacity(status: dict[str, object], expected: int) -> None:
    assert node_capacity({"status": status}) == expected
