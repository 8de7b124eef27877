"""Tables of every figure an application endpoint gave, judged or only recorded (p50, p95, ...)."""

from __future__ import annotations

from collections.abc import Iterable

from opsbook.reports.model import Table
from opsbook.results import CheckResult

COLUMNS = ["metric", "value", "unit", "threshold", "status"]


def _number(value: object) -> str:
    return "" if value is None else f"{value:,.4g}" if isinstance(value, (int, float)) else str(value)


def figures_tables(results: Iterable[CheckResult]) -> list[Table]:
    """One table per endpoint that answered, from the figures its check kept in `details`."""
    tables = []
    for result in results:
        figures = result.details.get("figures")
        if not figures:
            continue
        rows: list[list[object]] = [
            [
                f["metric"],
                _number(f.get("value")) or "(not read)",
                f.get("unit") or "",
                _number(f.get("threshold")),
                f["status"],
            ]
            for f in figures
        ]
        tables.append(Table(f"Figures from {result.target}", list(COLUMNS), rows))
    return tables
