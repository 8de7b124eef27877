"""Data-quality gates with Great Expectations: an analysis runs only on input that passed.

Generic on purpose: callers pass a pandas DataFrame and a list of GE expectations and get back
whether the data passed and one readable finding per failed expectation. The GE context is
ephemeral (nothing is written to disk) and built once per process, because building it is slow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

_lock = threading.Lock()


@dataclass(frozen=True)
class GateResult:
    """The verdict of a gate: `findings` says, in words, why data did not pass."""

    passed: bool
    findings: list[str] = field(default_factory=list)
    evaluated: int = 0

    def reason(self) -> str:
        return "; ".join(self.findings) or "all expectations met"

    @property
    def summary(self) -> str:
        if self.passed:
            return f"{self.evaluated} expectation(s) met"
        return f"{len(self.findings)} of {self.evaluated} expectation(s) failed: {self.reason()}"


def expectation(kind: str, **kwargs: Any) -> Any:
    """A GE expectation by class name: expectation("ExpectColumnValuesToBeBetween", column="x", max_value=1)."""
    import great_expectations as gx

    return getattr(gx.expectations, kind)(**kwargs)


@cache
def _batch_definition() -> Any:
    import great_expectations as gx

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm noise in flow logs
    source = context.data_sources.add_pandas(name="opsbook-gates")
    asset = source.add_dataframe_asset(name="frame")
    return asset.add_batch_definition_whole_dataframe("whole-frame")


def _describe(expectation: Any, result: dict[str, Any]) -> str:
    args = ", ".join(
        f"{k}={v}"
        for k, v in expectation.configuration.kwargs.items()
        if k not in ("batch_id", "result_format") and v is not None
    )
    seen: list[str] = []
    if result.get("unexpected_count"):
        seen.append(f"{result['unexpected_count']} unexpected")
        examples = [str(v) for v in list(result.get("partial_unexpected_list") or [])[:3]]
        if examples:
            seen.append(f"e.g. {', '.join(examples)}")
    elif "observed_value" in result:
        seen.append(f"observed {_plain(result['observed_value'])}")
    label = getattr(expectation, "description", None) or f"{expectation.expectation_type}({args})"
    return f"{label}: " + ("; ".join(seen) or "not met")


def _plain(value: Any) -> str:
    """Observed values may be numpy scalars or timestamps; show them as plain text."""
    return str(value.item() if hasattr(value, "item") and getattr(value, "size", 1) == 1 else value)


def gate(df: pd.DataFrame, expectations: Sequence[Any]) -> GateResult:
    """Validate `df` against GE expectations; an empty frame never passes."""
    if df.empty:
        return GateResult(False, ["no rows"], len(expectations))
    with _lock:  # the shared GE context is not thread-safe
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": df})
        findings = []
        for expectation in expectations:
            outcome = batch.validate(expectation)
            if not outcome.success:
                if outcome.exception_info and outcome.exception_info.get("raised_exception"):
                    findings.append(
                        f"{expectation.expectation_type}: could not evaluate "
                        f"({outcome.exception_info.get('exception_message')})"
                    )
                else:
                    findings.append(_describe(expectation, dict(outcome.result)))
    return GateResult(not findings, findings, len(expectations))
