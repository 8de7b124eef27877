"""How a runbook's final state says what happened, for the Prefect UI and for the CLI.

Prefect resolves a Failed state's data into an exception; any other object there makes the
engine log "Unexpected result for failed state" with the whole object dumped into one log line.
A runbook that could not do its job therefore ends `Failed` with a `RunbookIncomplete` carrying
what it did produce, and callers read that back with `outcome_of`.
"""

from __future__ import annotations

from typing import Any

from prefect.states import Failed, State

from opsbook.secrets import redact


class RunbookIncomplete(Exception):
    """The runbook could not do all of its job; `outcome` is what it produced before that."""

    def __init__(self, message: str, outcome: Any) -> None:
        super().__init__(message)
        self.outcome = outcome

    def __reduce__(self) -> tuple[Any, ...]:  # results persisted by Prefect are pickled
        return (type(self), (str(self), self.outcome))


def incomplete(message: str, outcome: Any) -> State:
    """A Failed state Prefect can resolve (no engine traceback), still carrying the outcome."""
    text = redact(message)
    return Failed(message=text, data=RunbookIncomplete(text, outcome))


def outcome_of(state: State) -> Any:
    """What a finished runbook produced, whether it ended Completed or incomplete; else the error."""
    result = state.result(raise_on_failure=False)
    return result.outcome if isinstance(result, RunbookIncomplete) else result
