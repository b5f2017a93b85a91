"""Connecting to the case file and bringing its schema up to date."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import pydantic_core
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from inburgering import config
from inburgering.domain.policy import Policy, PolicyEntry, load_default_policy, parse_value
from inburgering.store.migrations.guard import DowngradeRefused
from inburgering.store.models import PolicyValue

MIGRATIONS = Path(__file__).parent / "migrations"


def _json_text(value: object) -> str:
    return pydantic_core.to_json(value).decode()


# JSON columns (case states, event payloads, letter data) are encoded and decoded by
# pydantic-core: about 3.5x faster than the json module, which was a visible part of
# every stored transition. Same JSON, without the spaces.
_JSON_CODEC = {"json_serializer": _json_text, "json_deserializer": pydantic_core.from_json}
# A failed statement's error text would otherwise carry its parameters (a BSN among them) into
# tracebacks, logs and Prefect.
_ENGINE_OPTIONS = {**_JSON_CODEC, "hide_parameters": True}


# Seconds a statement waits for another process's write lock on a SQLite case file before it
# fails with "database is locked" (the commands then try again: cli.py).
BUSY_TIMEOUT = 30.0


def _private_sqlite_files(url: str) -> None:
    """The case file holds BSNs and letters: its file, and the -wal and -shm files SQLite makes
    beside it (with the main file's rights), are readable by their owner only."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite will say so, in its own words
    config.private_file(path)
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if extra.exists():
            config.private_file(extra)


def make_engine(url: str | None = None, *, readonly: bool = False, **options) -> Engine:
    """The engine of a case file; `options` go to create_engine (e.g. a pool size).

    On SQLite every transaction of a writing engine begins with BEGIN IMMEDIATE: one writer
    at a time, and what a writer reads (the inbox, due deadlines) is read under its write
    lock, so two workers never apply the same row (architecture.md §9). A `readonly` engine
    begins deferred: readers never wait for writers (WAL)."""
    url = url or config.database_url()
    if url.startswith("sqlite"):
        _private_sqlite_files(url)
        # isolation_level None: pysqlite leaves BEGIN to us (it would otherwise begin only
        # before the first write, after the reads that decide what to write).
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT, "isolation_level": None}, **_ENGINE_OPTIONS,
                               **options)

        @event.listens_for(engine, "begin")
        def _begin(connection):  # noqa: ANN001
            connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL at ~40 MB instead of 4 MB: a day's batch writes hundreds of pages,
            # and checkpointing ten times less often halved the time spent committing (bench/README.md).
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **_ENGINE_OPTIONS, **options)


def alembic_config(engine: Engine, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    cfg.attributes["connection"] = connection
    return cfg


# PostgreSQL advisory lock held while the schema is migrated (any constant: ours is "inburgering").
_MIGRATION_LOCK = 0x696E62757267


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the case file's migration lock: a second process waits, then
    finds the work done. Everything in it (every migration step) commits or rolls back together."""
    # On SQLite the engine begins every transaction with BEGIN IMMEDIATE (make_engine): the
    # write lock is the migration lock, and the DDL is part of the transaction.
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        yield connection


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration and add the shipped policy entries
    (defaults.yaml) that the case file does not have yet, e.g. a new key or a value
    from a new date. Entries already there are never changed. Safe to run in several
    processes at once: the work is done under a lock, and skipped when there is none."""
    if is_up_to_date(engine):
        return
    with _migration_lock(engine) as connection:
        command.upgrade(alembic_config(engine, connection), "head")
        with Session(bind=connection) as session:
            session.add_all(PolicyValue(key=entry.key, valid_from=valid_from, value=_json_value(entry.value),
                                        note="shipped default") for entry, valid_from in _missing_defaults(connection))
            session.flush()


def is_up_to_date(engine: Engine) -> bool:
    """Whether the case file has this version's schema and every shipped policy entry (what
    `migrate` would add); only reads."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head and \
            not _missing_defaults(connection)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` (an operator's rollback). Raises DowngradeRefused,
    changing nothing, when that would drop data the older schema has no place for."""
    with _migration_lock(engine) as connection:
        command.downgrade(alembic_config(engine, connection), revision)


def _missing_defaults(connection: Connection) -> list[tuple[PolicyEntry, dt.date]]:
    """The shipped policy entries the case file lacks (a key overridden for all days excepted)."""
    present = set(connection.execute(select(PolicyValue.key, PolicyValue.valid_from)).all())
    overridden = {key for key, valid_from in present if valid_from == POLICY_EPOCH}
    missing = []
    for entry in load_default_policy().entries():
        valid_from = max(entry.valid_from, POLICY_EPOCH)
        if (entry.key, valid_from) not in present and entry.key not in overridden:
            missing.append((entry, valid_from))
    return missing


def shipped_default(key: str, valid_from: dt.date, value: object) -> bool:
    """Whether a policy row is one `migrate` writes from defaults.yaml (so migrating up restores it)."""
    return any(entry.key == key and max(entry.valid_from, POLICY_EPOCH) == valid_from
               and _json_value(entry.value) == value for entry in load_default_policy().entries())


# The first day a policy value can have: an override "for all days" starts here.
POLICY_EPOCH = dt.date(1900, 1, 1)


def _json_value(value):  # noqa: ANN001
    if isinstance(value, (dt.date,)):
        return value.isoformat()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)  # Decimal as exact text


def load_policy(session: Session) -> Policy:
    """The policy in the case file. Read every time (it can change between batches); parsed
    again only when the rows differ from the last ones parsed."""
    rows = tuple(tuple(row) for row in session.connection().execute(_POLICY_ROWS))
    fingerprint = repr(rows)  # plain values: their repr is exact and cheap
    cached = _parsed_policy.get(fingerprint)
    if cached is None:
        cached = Policy.from_entries([PolicyEntry(key, valid_from, parse_value(key, value))
                                      for key, valid_from, value in rows])
        if len(_parsed_policy) > 16:
            _parsed_policy.clear()
        _parsed_policy[fingerprint] = cached
    return cached


_POLICY_ROWS = select(PolicyValue.key, PolicyValue.valid_from, PolicyValue.value).order_by(PolicyValue.id)
_parsed_policy: dict[str, Policy] = {}


class CaseFile:
    """The database the engine works on: one engine, sessions on demand."""

    def __init__(self, url: str | None = None, *, create: bool = True):
        self.engine = make_engine(url)
        if create:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: Engine | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A transaction that may write (on SQLite: the one writer of the moment)."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads (boards, answers to senders): it never waits for a writer."""
        if self.engine.dialect.name != "sqlite":
            with self.transaction() as session:
                yield session
            return
        if self._reader is None:
            self._reader = make_engine(self.engine.url.render_as_string(hide_password=False), readonly=True)
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()
