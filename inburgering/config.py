"""Settings from the environment. Nothing secret or personal lives in code."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """Where the embedded default keeps its files (database, spool)."""
    path = Path(os.environ.get("INBURGERING_HOME", PROJECT_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """INBURGERING_DATABASE_URL, e.g. postgresql+psycopg://user@host/db; SQLite by default."""
    return os.environ.get("INBURGERING_DATABASE_URL") or f"sqlite:///{home() / 'inburgering.db'}"


def partitions() -> int:
    """INBURGERING_PARTITIONS: into how many shares of people the ingest and the monitor split
    their work (default 1: no split). Each share runs as its own flow run on the work pool."""
    value = os.environ.get("INBURGERING_PARTITIONS", "").strip() or "1"
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"INBURGERING_PARTITIONS: {value!r} is not a number of partitions; use 1 or more")
    return int(value)
