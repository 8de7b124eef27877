"""A small Great Expectations gate for pandas frames: named expectations, named reasons.

Generic on purpose (nothing here knows about billing): a caller lists `Rule`s, each a GE
expectation with the reason to print when it fails and whether the failure blocks the analysis
(structural: a column missing, the wrong type) or only flags rows (the analysis may go on and
says so). Expectations on a column that is missing are not run; the column's own existence
rule reports it once, instead of one GE exception per expectation.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no phoning home from tests or flows


@dataclass(frozen=True)
class Rule:
    """One expectation, what it protects, and whether its failure blocks the analysis."""

    expectation: Any  # a great_expectations.expectations.Expectation
    reason: str  # e.g. "BilledCost is negative on rows that are not credits or refunds"
    columns: tuple[str, ...] = ()  # columns the expectation reads; missing ones skip it
    blocking: bool = True


@dataclass(frozen=True)
class Finding:
    """A failed rule: its reason, how many rows broke it, and a few of their values."""

    reason: str
    blocking: bool
    unexpected_count: int | None = None
    examples: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        rows = f" ({self.unexpected_count} row(s))" if self.unexpected_count else ""
        return f"{self.reason}{rows}"


@dataclass(frozen=True)
class GateReport:
    """What the gate found. `passed` needs every rule met; `usable` only the blocking ones."""

    name: str
    rows: int
    rules: int
    findings: list[Finding]

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def usable(self) -> bool:
        return not any(f.blocking for f in self.findings)

    @property
    def reasons(self) -> list[str]:
        return [f.describe() for f in self.findings]


_lock = threading.Lock()  # GE's context registry is process-global; build batches one at a time


def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_gate(name: str, frame: pd.DataFrame, rules: Sequence[Rule]) -> GateReport:
    """Validate a frame against rules with Great Expectations; every failure becomes a Finding."""
    import great_expectations as gx

    runnable = [r for r in rules if all(c in frame.columns for c in r.columns)]
    findings: list[Finding] = []
    if runnable:
        with _lock:
            context = _context()
            batch_definition = (
                context.data_sources.add_pandas("gate")
                .add_dataframe_asset("frame")
                .add_batch_definition_whole_dataframe("whole")
            )
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            suite = gx.ExpectationSuite(name=name)
            for index, rule in enumerate(runnable):
                expectation = copy.deepcopy(rule.expectation)  # a suite claims what it is given
                expectation.meta = {"rule": index}
                suite.add_expectation(expectation)
            validation = batch.validate(suite, result_format="SUMMARY")
        for outcome in validation.results:
            rule = runnable[outcome.expectation_config.meta["rule"]]
            if outcome.success:
                continue
            error = (outcome.exception_info or {}).get("exception_message") if outcome.exception_info else None
            reason = f"{rule.reason} (could not evaluate: {error})" if error else rule.reason
            result = outcome.result or {}
            findings.append(
                Finding(
                    reason=reason,
                    blocking=rule.blocking,
                    unexpected_count=result.get("unexpected_count"),
                    examples=[_plain(v) for v in result.get("partial_unexpected_list") or []][:5],
                )
            )
    return GateReport(name=name, rows=len(frame), rules=len(rules), findings=findings)


def _plain(value: Any) -> Any:
    """A JSON-friendly example value for details and artifacts."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)
