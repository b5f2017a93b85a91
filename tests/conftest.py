"""Shared fixtures. Every test that touches SQL runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from inburgering.store.db import CaseFile  # noqa: E402
from tests.postgres_server import PostgresServer  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SCENARIOS = Path(os.environ.get("INBURGERING_SHARED", SHARED)) / "scenarios"


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database URL: once SQLite, once PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'case.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def case_file(database_url):
    cf = CaseFile(database_url)
    yield cf
    cf.dispose()


@pytest.fixture
def scenarios_dir() -> Path:
    if not SCENARIOS.is_dir():
        pytest.fail(f"shared scenarios not found at {SCENARIOS}; set INBURGERING_SHARED to the shared/ folder")
    return SCENARIOS


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def flows_database(tmp_path, monkeypatch):
    """Point the flows' case file at a fresh SQLite database."""
    url = f"sqlite:///{tmp_path / 'flows.db'}"
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url)
    cf = CaseFile(url)
    yield cf
    cf.dispose()


# `bin/test -m fast`: the processes' rules and the casebook in memory (no case file, no Prefect).
FAST_MODULES = {"test_agi_rules", "test_calendar", "test_exams_process", "test_exams_rules", "test_invoicing_rules",
                "test_invoicing_properties", "test_state_discipline", "test_policy_validation"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in FAST_MODULES:
            item.add_marker(pytest.mark.fast)
