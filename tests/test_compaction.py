"""Under a long churn the change log is compacted and the database stops growing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import needs
from tests.conftest import fresh_pg_database, start_apiserver


def pod(name: str, gen: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"gen": str(gen)}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def db_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("kubelite.db*"))


def change_rows(url: str) -> int:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.connect() as c:
        n = int(c.execute(text("SELECT count(*) FROM changes")).scalar_one())
    eng.dispose()
    return n


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_change_log_levels_off_under_churn(tmp_path: Path, backend: str) -> None:
    import time

    extra = ["--keep-changes", "300", "--compact-interval", "0.2"]
    url = f"sqlite:///{tmp_path / 'kubelite.db'}"
    if backend == "postgres":
        needs.pg_url()
        url = fresh_pg_database()
        extra += ["--db", url]
    srv = start_apiserver(tmp_path, extra=extra)
    sizes: list[int] = []
    rows: list[int] = []
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            for i in range(40):
                assert c.post("/api/v1/namespaces/default/pods", json=pod(f"p{i}", 0)).status_code == 201
            for rnd in range(1, 6):
                for _ in range(3):
                    for i in range(40):
                        p = pod(f"p{i}", rnd)
                        r = c.patch(f"/api/v1/namespaces/default/pods/p{i}",
                                    content=b'{"metadata":{"labels":{"gen":"%d"}}}' % (rnd * 1000 + _),
                                    headers={"Content-Type": "application/merge-patch+json"})
                        assert r.status_code == 200, r.text
                        del p
                time.sleep(0.6)  # let a compaction pass run
                rows.append(change_rows(url))
                if backend == "sqlite":
                    sizes.append(db_bytes(tmp_path))
            # every object is still there and current
            assert len(c.get("/api/v1/namespaces/default/pods").json()["items"]) == 40
    finally:
        srv.stop()
    assert max(rows) <= 300 + 150, rows  # bounded by --keep-changes (+ one interval's writes)
    if sizes:
        assert sizes[-1] <= sizes[1] * 1.5, sizes  # the file and its WAL level off
