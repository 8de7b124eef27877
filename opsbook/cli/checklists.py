"""`opsbook run ...`: run a scheduled checklist now, in this process, and exit with its verdict."""

from __future__ import annotations

from typing import Annotated

import typer

from opsbook.cli.common import EXIT_CONFIG, ConfigOption, err, load_or_exit, run_checklist

app = typer.Typer(help="Run a checklist now.", no_args_is_help=True)


@app.command("daily")
def run_daily(config: ConfigOption = None) -> None:
    """Run the daily checklist now (exit 0 ok/warn, 1 fail/error, 2 bad config)."""
    from opsbook.flows.daily import daily_checklist

    file, _ = load_or_exit(config)
    raise typer.Exit(run_checklist(daily_checklist, file))


@app.command("database-maintenance")
def run_database_maintenance(
    config: ConfigOption = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="really ANALYZE, REINDEX and reset query stats (default: dry run, nothing changes)"
        ),
    ] = False,
    database: Annotated[
        list[str] | None,
        typer.Option("--database", "-d", help="a configured database's name; repeat for several (default: all)"),
    ] = None,
) -> None:
    """Run the weekly database maintenance now, a dry run unless --apply (exit 0 ok/warn, 1 fail/error, 2 bad config)."""  # noqa: E501 - the --help text, one line
    from opsbook.flows.database_maintenance import MaintenanceParameters, database_maintenance

    file, _ = load_or_exit(config)
    params = MaintenanceParameters(apply=apply, databases=database or [])
    raise typer.Exit(run_checklist(database_maintenance, file, params=params))


@app.command("capacity")
def run_capacity(config: ConfigOption = None) -> None:
    """Run capacity planning now: trends, 90-day projections, scaling and cost (exit 1 on fail/error)."""
    from opsbook.flows.capacity import capacity_planning

    file, _ = load_or_exit(config)
    raise typer.Exit(run_checklist(capacity_planning, file))


@app.command("weekly")
def run_weekly(
    config: ConfigOption = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="really compress/delete logs, run database maintenance and cache actions")
    ] = False,
) -> None:
    """Run the weekly maintenance now (dry run unless --apply)."""
    from opsbook.flows.weekly import weekly_maintenance

    file, _ = load_or_exit(config)
    raise typer.Exit(run_checklist(weekly_maintenance, file, apply=apply))


@app.command("monthly")
def run_monthly(config: ConfigOption = None) -> None:
    """Run the monthly audit now: health audit, reviews, DR drill, runbook coverage, costs, KPIs."""
    from opsbook.flows.monthly import monthly_audit

    file, _ = load_or_exit(config)
    raise typer.Exit(run_checklist(monthly_audit, file))


@app.command("cost-review")
def run_cost_review(
    config: ConfigOption = None,
    month: Annotated[
        str | None, typer.Option(help="month to review, YYYY-MM (default: the month of the latest charge)")
    ] = None,
) -> None:
    """Run the monthly cost review from the FOCUS exports (exit 0 ok/warn, 1 fail/error, 2 bad config)."""
    import re

    from opsbook.flows.cost_review import MONTH, cost_review

    if month is not None and not re.match(MONTH, month):
        err.print(f"invalid --month {month!r}: use YYYY-MM", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG)
    file, _ = load_or_exit(config)
    raise typer.Exit(run_checklist(cost_review, file, month=month))
