"""`opsbook alerts list|judge`: the alerts on record, and judging them real or noise."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from opsbook.cli.common import EXIT_PROBLEMS, ConfigOption, err, load_or_exit, open_history, out, say
from opsbook.secrets import redact

app = typer.Typer(help="List alerts; judge them real or noise (feeds alert accuracy).", no_args_is_help=True)


@app.command("list")
def alerts_list(
    state: Annotated[str | None, typer.Option(help="firing or resolved (default: both)")] = None,
    config: ConfigOption = None,
) -> None:
    """Alerts with their fingerprint (check|target), state, severity and how often they fired."""
    from opsbook.alerts import list_alerts

    if state not in (None, "firing", "resolved"):
        raise typer.BadParameter(f"{state!r}: use firing or resolved", param_hint="--state")
    _, estate = load_or_exit(config)
    table = Table(title="alerts", title_justify="left")
    for column in ("fingerprint", "state", "severity", "count", "first seen", "message"):
        table.add_column(column, overflow="fold")
    for a in list_alerts(open_history(estate), state):
        table.add_row(
            redact(a.fingerprint),
            a.state,
            a.severity,
            str(a.count),
            f"{a.first_seen:%Y-%m-%d %H:%M UTC}",
            redact(a.message),
        )
    out.print(table)


@app.command("judge")
def alerts_judge(
    fingerprint: Annotated[str, typer.Argument(help="check|target, as `opsbook alerts list` shows it")],
    real: Annotated[
        bool,
        typer.Option("--true-positive/--false-positive", help="a real problem, or noise that should not have alerted"),
    ],
    note: Annotated[str, typer.Option(help="why, for the alert noise review")] = "",
    config: ConfigOption = None,
) -> None:
    """Judge the alert's current (or last) firing: real or noise. Judging again replaces the verdict."""
    from opsbook.alerts import UnknownAlert, judge_alert

    _, estate = load_or_exit(config)
    try:
        episode = judge_alert(
            open_history(estate), fingerprint, true_positive=real, judged_by=getpass.getuser(), note=note
        )
    except UnknownAlert as error:
        err.print(f"error: {redact(str(error))}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    say(
        f"{fingerprint}: firing since {episode.started:%Y-%m-%d %H:%M UTC} judged "
        f"{'a true positive' if real else 'a false positive'}"
    )
