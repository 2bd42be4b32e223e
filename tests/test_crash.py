"""kill -9 of the API server under a write load loses no acknowledged write (bench/crash.py runs 20 rounds)."""

from __future__ import annotations

import random
from pathlib import Path

from bench.crash import run_iteration


def test_kill_9_under_write_load_three_times(tmp_path: Path) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    total = 0
    for i in range(3):
        res = run_iteration(tmp_path / "data", i, rng=rng)
        assert res.ok, f"seed {seed}: {res}"
        assert res.acknowledged > 0
        total += res.acknowledged
    assert total >= 30, f"seed {seed}: only {total} writes acknowledged in 3 rounds"
