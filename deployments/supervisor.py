"""The processes `inburgering up` starts, and the certainty that they stop with it.

Each child runs in a process group of its own, led by a small guard (`python -m
deployments.supervisor -- command...`) that the kernel tells when `up` dies in any way, `kill
-9` included (Linux `prctl(PR_SET_PDEATHSIG, SIGTERM)`): the guard then stops its whole group,
the command's own children too (the Prefect server's web process, a served flow run). `up`
stops them all, newest first and each with its whole group, on Ctrl-C (SIGINT), a plain kill
(SIGTERM), a hang-up (SIGHUP, the terminal closed) and when its own parent dies (the same
prctl on itself).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the signals and stop() still hold
        pass


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setpgid(0, 0)
    die_with_parent(signal.SIGTERM)


class Supervisor:
    """Starts children and stops them all: `stop()` on any of STOP_SIGNALS, and at the end of a
    `with` block (an exception included)."""

    def __init__(self, grace_seconds: float = 30):
        self.children: list[subprocess.Popen] = []
        self.grace_seconds = grace_seconds
        self._stopping = False
        self._parent = os.getppid()

    def __enter__(self) -> Supervisor:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        die_with_parent(signal.SIGTERM)
        if os.getppid() != self._parent:  # the parent died before the request took effect
            self._on_signal(signal.SIGTERM, None)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, args: list[str], *, log: Path | None = None, **popen) -> subprocess.Popen:  # noqa: ANN003
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        guarded = [sys.executable, "-m", "deployments.supervisor", "--", *args]
        child = subprocess.Popen(guarded, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_child_setup, **popen)
        self.children.append(child)
        return child

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop()
        raise SystemExit(0 if signum in (signal.SIGINT, signal.SIGTERM) else 128 + signum)

    def stop(self) -> None:
        """Newest first, one at a time (serve needs the server to pause its deployments), each
        with its process group: SIGTERM, then SIGKILL after the grace period."""
        if self._stopping:
            return
        self._stopping = True
        for sig in STOP_SIGNALS:  # a second Ctrl-C does not cut the stop short
            signal.signal(sig, signal.SIG_IGN)
        for child in reversed(self.children):
            _signal_group(child, signal.SIGTERM)
            try:
                child.wait(timeout=self.grace_seconds)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(child, signal.SIGKILL)  # whatever of its group is left
            child.wait()


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def guard(args: list[str], grace_seconds: float = 20) -> int:
    """Run `args` in this process group; when this guard is told to stop (SIGTERM, SIGINT,
    SIGHUP, or its parent died), stop the whole group: SIGTERM, then SIGKILL after the grace."""
    told: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        if not told:
            told.append(signum)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group's SIGTERM reaches this guard too
            os.killpg(0, signal.SIGTERM)

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    parent = os.getppid()
    die_with_parent(signal.SIGTERM)
    command = subprocess.Popen(args, preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in STOP_SIGNALS])
    if os.getppid() != parent:  # up died before the request took effect
        on_signal(signal.SIGTERM, None)
    while command.poll() is None and not told:
        time.sleep(0.2)
    if told:
        deadline = time.monotonic() + grace_seconds
        while command.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.killpg(0, signal.SIGKILL)  # what is left of the group, this guard last
    return command.wait()


if __name__ == "__main__":
    if sys.argv[1:2] != ["--"] or len(sys.argv) < 3:
        raise SystemExit("usage: python -m deployments.supervisor -- command [arguments]")
    raise SystemExit(guard(sys.argv[2:]))
