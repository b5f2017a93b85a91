"""Settings from the environment. Nothing secret or personal lives in code."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


PRIVATE_FILE = 0o600  # the case file (and its -wal, -shm), gateway.jsonl, tokens: personal data and secrets
PRIVATE_DIR = 0o700


def home() -> Path:
    """Where the embedded default keeps its files (database, spool): a folder only its owner
    can enter (made so, or tightened when it is ours and not a shared folder such as /tmp)."""
    path = Path(os.environ.get("INBURGERING_HOME", PROJECT_ROOT / "var"))
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR, shared_ok=True)
    return path


def private_file(path: Path) -> None:
    """Make sure a file with personal data or secrets is readable by its owner only: created
    0600 (never first with wider rights), or tightened when it exists with wider rights."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int, *, shared_ok: bool = False) -> None:
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o777 & ~mode == 0:
        return  # not ours to change, or tight already
    if shared_ok and info.st_mode & 0o1000:
        return  # a sticky folder (/tmp) is shared on purpose
    path.chmod(info.st_mode & 0o777 & mode)


def shown_url(url: str) -> str:
    """A database URL as it may be printed or logged: the password masked (`***`)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(a database URL that cannot be read)"


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
