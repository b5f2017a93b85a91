"""How a flow says it was refused: its run ends in a Completed state named **Refused**, with the
rule's own sentence as the state's message (what the run page shows at the top), logged as one
warning line, never a traceback. A refusal is an answer, not a failure: the dashboard does not
count it among the failed runs, and a failure (a crash, a bug) stays a Failed run.

Tasks hand a refusal back as a value (`Refused`, see engine/errors.py): a task that raises is
logged by Prefect with its traceback. `taken(value)` in the flow turns it back into an InputError.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.states import Completed, State

from inburgering.engine.errors import InputError, Refused

REFUSED = "Refused"
T = TypeVar("T")


def refused_state(reason: str) -> State:
    """The state a refused staff action ends in: Completed, named Refused, with the sentence."""
    get_run_logger().warning("refused: %s", reason)
    return Completed(name=REFUSED, message=f"refused: {reason}")


def taken(value: T | Refused) -> T:
    """A task's value, or its refusal raised again in the flow (where `states_refusals` says it)."""
    if isinstance(value, Refused):
        raise InputError(value.reason)
    return value


def states_refusals(fn):  # noqa: ANN001, ANN201
    """A refusal raised inside `fn` (InputError: bad input or a rule) ends the run Refused, saying it."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            return refused_state(str(exc))

    # The parameters' types resolved in fn's own module: Prefect resolves a signature's string
    # annotations in the wrapper's globals (this module's), which do not know them.
    run.__signature__ = inspect.signature(fn, eval_str=True)
    return run


def refused(outcome: dict) -> State:
    """The state for an outcome the case refused ({"status", "reason"}): rejected by a rule,
    refused as input, or a duplicate."""
    status = outcome["status"]
    return refused_state(outcome["reason"] if status == "refused" else f"{outcome['reason']} ({status})")
