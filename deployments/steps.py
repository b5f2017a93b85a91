"""The pull step of prefect.yaml, run by the worker when a flow run starts."""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def enter_checkout() -> dict[str, str]:
    """Run the flow from the checkout this venv was installed from (`pip install -e .`), found on
    the worker's own machine: the workers need the checkout and its venv, at any path."""
    os.chdir(CHECKOUT)
    return {"directory": str(CHECKOUT)}
