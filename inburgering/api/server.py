"""Serving the inbound API with uvicorn (`inburgering api`)."""

from __future__ import annotations

import copy
import logging

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from inburgering.engine.errors import redact_bsn

DEFAULT_HOST = "127.0.0.1"  # bind to all interfaces only on purpose (behind a TLS proxy)
DEFAULT_PORT = 8030


class RedactBsn(logging.Filter):
    """Access log lines name the path, e.g. GET /v1/events/{id}: no BSN a client typed there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact_bsn(a) if isinstance(a, str) else a for a in record.args)  # type: ignore[union-attr]
        record.msg = redact_bsn(str(record.msg))
        return True


def log_config() -> dict:
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_bsn"] = {"()": RedactBsn}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_bsn")
    config["loggers"]["inburgering.api"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, workers: int = 1, access_log: bool = True) -> None:
    """Bring the case file's schema up to date, then serve until stopped. Several workers share
    the port (each its own process); the database URL comes from the environment."""
    from inburgering.store.db import CaseFile

    CaseFile().dispose()  # migrate once, before any worker starts
    uvicorn.run("inburgering.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=access_log, log_config=log_config())
