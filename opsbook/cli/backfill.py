"""`opsbook backfill`: copy Prometheus' resource history into the history store."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opsbook.cli.common import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, ConfigOption, err, load_or_exit, out
from opsbook.secrets import redact


def backfill(
    config: ConfigOption = None,
    days: Annotated[
        float | None,
        typer.Option(min=0.0001, max=3650, help="how far back (default: resources.prometheus.backfill_days, 30)"),
    ] = None,
    step: Annotated[
        float | None,
        typer.Option(min=0.001, max=86400, help="seconds between samples (default: resources.prometheus.step_s, 300)"),
    ] = None,
) -> None:
    """Copy Prometheus' CPU, memory, disk and network history into the history store.

    Safe to repeat: samples already stored are skipped. Exit 1 when any window failed.
    """
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from opsbook.store import StoreError
    from opsbook.tasks.resource_history import METRICS, backfill_resources

    _, estate = load_or_exit(config)
    if estate.resources.prometheus is None:
        err.print("error: resources.prometheus is not configured: nothing to backfill from", markup=False)
        raise typer.Exit(EXIT_CONFIG)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err) as progress:
        bars: dict[str, Any] = {}

        def advance(metric: str, done: int, total: int) -> None:
            if metric not in bars:
                bars[metric] = progress.add_task(metric, total=total)
            progress.update(bars[metric], completed=done)

        try:
            outcome = asyncio.run(backfill_resources(estate, days=days, step_s=step, on_progress=advance))
        except StoreError as error:
            err.print(f"error: {error}", markup=False, highlight=False)
            raise typer.Exit(EXIT_PROBLEMS) from None
    out.print(
        f"backfilled {len(METRICS)} metrics from {outcome.start:%Y-%m-%d %H:%M} to {outcome.end:%Y-%m-%d %H:%M} UTC "
        f"every {outcome.step_s:g} s: {outcome.windows} range queries, {outcome.points} points, "
        f"{outcome.inserted} new, {outcome.points - outcome.inserted} already stored, "
        f"{outcome.not_a_number} NaN skipped",
        markup=False,
        highlight=False,
    )
    for problem in outcome.errors:
        err.print(f"problem: {redact(problem)}", markup=False, highlight=False)
    raise typer.Exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)
