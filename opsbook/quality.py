"""Data-quality gates with Great Expectations: does a frame hold what an analysis relies on?

Generic on purpose: a restore test, a trend analysis or a KPI report passes a pandas frame and
a list of expectations and gets a `GateResult` whose `problems` read as sentences. Uses an
ephemeral GE context (nothing written to disk) built once per process.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

_lock = threading.Lock()
_context: Any = None


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate: passed, and one line per failed expectation."""

    passed: bool
    evaluated: int
    problems: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        if self.passed:
            return f"{self.evaluated} expectation(s) met"
        return f"{len(self.problems)} of {self.evaluated} expectation(s) failed: " + "; ".join(self.problems)


def _ge_context() -> Any:
    global _context
    with _lock:
        if _context is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            _context = context
        return _context


def expectation(kind: str, **kwargs: Any) -> Any:
    """A GE expectation by class name, e.g. expectation("ExpectColumnValuesToBeBetween", column="x", max_value=1)."""
    import great_expectations as gx

    return getattr(gx.expectations, kind)(**kwargs)


def _describe(outcome: Any) -> str:
    config = outcome.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    result = outcome.result or {}
    seen = result.get("partial_unexpected_list") or result.get("observed_value")
    where = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{config.type}({where})" + (f": found {seen}" if seen not in (None, []) else "")


def validate_frame(frame: pd.DataFrame, expectations: Sequence[Any]) -> GateResult:
    """Validate frame against expectations (GE expectation objects); never raises on a failed gate."""
    import great_expectations as gx

    context = _ge_context()
    name = f"gate-{uuid.uuid4().hex[:12]}"
    with _lock:  # the ephemeral context's registries are not thread-safe
        source = context.data_sources.add_pandas(name)
        batch = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole") \
            .get_batch(batch_parameters={"dataframe": frame})
        suite = gx.ExpectationSuite(name=name)
        for item in expectations:
            suite.add_expectation(item)
        try:
            outcome = batch.validate(suite)
        finally:
            context.data_sources.delete(name)
    failed = [r for r in outcome.results if not r.success]
    return GateResult(
        passed=bool(outcome.success),
        evaluated=len(outcome.results),
        problems=[_describe(r) for r in failed],
        details=[{"expectation": r.expectation_config.type, "success": bool(r.success),
                  "kwargs": {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}}
                 for r in outcome.results],
    )
