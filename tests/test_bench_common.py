"""Table tests of the pure helpers every benchmark shares (bench/common.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.common import Sampler, figure, percentile, ratio

HUNDRED = [float(i) for i in range(1, 101)]  # 1..100: the p-th percentile is p


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    (HUNDRED, 0.99, 99.0),
    (HUNDRED, 0.5, 50.0),
    (HUNDRED, 0.29, 29.0),  # 0.29 * 100 is 28.999999999999996
    (HUNDRED, 0.0, 1.0),
    (HUNDRED, 1.0, 100.0),
    ([5.0, 1.0, 3.0], 0.5, 3.0),  # unsorted input is sorted
    ([7.0], 0.99, 7.0),
    ([1.0, 2.0], 0.5, 1.0),
    ([1.0, 2.0], 0.51, 2.0),
])
def test_percentile(values: list[float], fraction: float, expected: float) -> None:
    assert percentile(values, fraction) == expected


@pytest.mark.parametrize(("values", "fraction"), [
    (HUNDRED, 99),  # a percentage passed by mistake
    (HUNDRED, 50.0),
    (HUNDRED, 1.01),
    (HUNDRED, -0.1),
    ([], 0.5),  # no samples, no figure
])
def test_percentile_refuses(values: list[float], fraction: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, fraction)


def test_percentile_presorted_trusts_the_order() -> None:
    assert percentile([3.0, 1.0, 2.0], 1.0, presorted=True) == 2.0


@pytest.mark.parametrize(("value", "baseline", "expected"), [
    (6.0, 2.0, 3.0),
    (None, 2.0, None),
    (1.0, None, None),
    (1.0, 0.0, None),
])
def test_ratio(value: float | None, baseline: float | None, expected: float | None) -> None:
    assert ratio(value, baseline) == expected


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"name": "f", "value": 8413.66, "unit": "req/s", "baseline": 2806.62, "target": ">= 3.0x", "met": False},
     {"figure": "f", "value": 8413.66, "unit": "req/s", "baseline": 2806.62, "ratio": 2.998,
      "target": ">= 3.0x", "met": False}),
    ({"name": "f", "value": 1.0, "unit": "ms", "baseline": None},
     {"figure": "f", "value": 1.0, "unit": "ms", "baseline": None, "ratio": None}),
    ({"name": "f", "value": None, "unit": "ms", "baseline": 2.0, "target": "<= 1 ms", "met": True, "timeout": True},
     {"figure": "f", "value": None, "unit": "ms", "baseline": 2.0, "ratio": None, "target": "<= 1 ms",
      "met": False, "timeout": True}),
])
def test_figure_prints_what_it_returns(kwargs: dict[str, object], expected: dict[str, object],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    line = figure(**kwargs)  # type: ignore[arg-type]
    assert line == expected
    assert json.loads(capsys.readouterr().out) == expected


def test_sampler_refuses_a_name_for_both_a_process_and_a_database(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Sampler(pids={"server": 1}, dbs={"server": tmp_path})


@pytest.mark.parametrize("bench", ["api", "allocators", "endpoints", "dns", "proxy", "crash"])
def test_every_bench_explains_itself_and_takes_quick(bench: str) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", f"bench.{bench}", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--quick" in out.stdout
