"""Alembic migrations of the store; ``upgrade(url)`` brings a database to head."""

from __future__ import annotations

from pathlib import Path


def upgrade(url: str) -> None:
    """Run every migration up to head (idempotent)."""
    from alembic import command
    from alembic.config import Config

    from apiserver.storage.database import prepare_database

    prepare_database(url)

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")
