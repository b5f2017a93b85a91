"""A private PostgreSQL server for the test session (Debian's postgresql package).

If INBURGERING_TEST_POSTGRES_URL is set, that server is used instead. Otherwise a
throw-away cluster is created in a temporary directory on a free port and removed
at the end. PostgreSQL refuses to run as root, so as root it runs as `postgres`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin). "
            "Run ./bin/test, which installs Debian's postgresql package."
        )
    return Path(candidates[0]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.url = os.environ.get("INBURGERING_TEST_POSTGRES_URL")
        self._dir: str | None = None
        self._counter = 0

    def start(self) -> None:
        if self.url:
            return
        bin_dir = _bin_dir()
        self._dir = tempfile.mkdtemp(prefix="inburgering-pg-")
        user = None
        if os.geteuid() == 0:
            user = "postgres"
            uid = pwd.getpwnam(user)
            os.chown(self._dir, uid.pw_uid, uid.pw_gid)
        data = os.path.join(self._dir, "data")
        port = _free_port()

        def run(*args: str) -> None:
            cmd = (["runuser", "-u", user, "--"] if user else []) + list(args)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        run(str(bin_dir / "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(bin_dir / "pg_ctl"), "-D", data, "-l", os.path.join(self._dir, "log"), "-w", "-o",
            f"-p {port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", "start")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        self._run = run
        self._bin = bin_dir
        self._data = data

    def new_database(self) -> str:
        """A fresh, empty database on the server; returns its URL."""
        assert self.url
        self._counter += 1
        name = f"t{os.getpid()}_{self._counter}_{int(time.time() * 1000) % 100000}"
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if self._dir:
            try:
                self._run(str(self._bin / "pg_ctl"), "-D", self._data, "-m", "immediate", "-w", "stop")
            finally:
                shutil.rmtree(self._dir, ignore_errors=True)
