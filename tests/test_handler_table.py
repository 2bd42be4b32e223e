"""The API server's handler table (apiserver.app.ApiServer._handlers) covers what the kinds declare."""

from __future__ import annotations

from pathlib import Path

from apimachinery.resources import BY_KEY
from apiserver.app import ApiServer
from apiserver.settings import Settings


def test_every_declared_subresource_has_a_handler(tmp_path: Path) -> None:
    """A subresource a kind declares parses (requestinfo.parse_path) but, without a table entry, would be
    405 for every method: declaring one means registering its handlers in ApiServer._handlers too."""
    server = ApiServer(Settings(data_dir=tmp_path))
    served = {sub for _, sub in server.named_handlers}
    declared = {sub: rt.key for rt in BY_KEY.values() for sub in rt.subresources}
    assert {sub: key for sub, key in declared.items() if sub not in served} == {}
    assert set(server.collection_handlers) == {"GET", "POST", "DELETE"}
