"""How a flow says it was refused: its run fails with the rule's own sentence as the run's state
message (what the run page shows at the top), logged as one line, not as a traceback."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from prefect import get_run_logger
from prefect.states import Failed

from inburgering.engine.errors import InputError


def states_refusals(fn):  # noqa: ANN001, ANN201
    """A refusal raised inside `fn` (InputError: bad input or a rule) fails the run, saying it."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            get_run_logger().error("refused: %s", exc)
            return Failed(message=f"refused: {exc}")

    # The parameters' types resolved in fn's own module: Prefect resolves a signature's string
    # annotations in the wrapper's globals (this module's), which do not know them.
    run.__signature__ = inspect.signature(fn, eval_str=True)
    return run


def refused(outcome: dict) -> Failed:
    """The failed state for an outcome the case refused ({"status", "reason"})."""
    get_run_logger().error("refused: %s", outcome["reason"])
    return Failed(message=f"refused ({outcome['status']}): {outcome['reason']}")
