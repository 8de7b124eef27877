"""`opsbook silence add|list|expire`: mute alerts for a while; they are still recorded."""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from opsbook import durations
from opsbook.cli.common import EXIT_PROBLEMS, ROW_ID_MAX, ConfigOption, err, load_or_exit, open_history, out, say
from opsbook.secrets import redact

app = typer.Typer(help="Mute alerts for a while (they are still recorded).", no_args_is_help=True)


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `1h30m`, `2d`: the grammar config files use (opsbook.durations)."""
    try:
        return durations.parse_duration(text, minimum=durations.POSITIVE)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@app.command("add")
def silence_add(
    duration: Annotated[str, typer.Option("--for", help="how long, e.g. 30m, 1h30m, 2d")],
    check: Annotated[str, typer.Option(help="check id pattern (shell style)")] = "*",
    target: Annotated[str, typer.Option(help="target pattern (shell style)")] = "*",
    reason: Annotated[str, typer.Option(help="why")] = "",
    config: ConfigOption = None,
) -> None:
    """Silence alerts whose check and target match, until the silence expires."""
    from opsbook.alerts import add_silence

    _, estate = load_or_exit(config)
    silence = add_silence(
        open_history(estate),
        check=check,
        target=target,
        duration=parse_duration(duration),
        reason=reason,
        created_by=getpass.getuser(),
    )
    say(f"silence {silence.id}: {check} on {target} until {silence.expires_at:%Y-%m-%d %H:%M UTC}")


@app.command("list")
def silence_list(
    all_: Annotated[bool, typer.Option("--all", help="include expired silences")] = False,
    config: ConfigOption = None,
) -> None:
    """Active silences (or all of them)."""
    from opsbook.alerts import list_silences

    _, estate = load_or_exit(config)
    table = Table(title="silences", title_justify="left")
    for column in ("id", "check", "target", "expires", "by", "reason"):
        table.add_column(column, overflow="fold")
    for s in list_silences(open_history(estate), include_expired=all_):
        table.add_row(
            str(s.id),
            s.check_pattern,
            s.target_pattern,
            f"{s.expires_at:%Y-%m-%d %H:%M UTC}",
            s.created_by,
            redact(s.reason),
        )
    out.print(table)


@app.command("expire")
def silence_expire(
    silence_id: Annotated[int, typer.Argument(min=1, max=ROW_ID_MAX, help="the id `opsbook silence list` shows")],
    config: ConfigOption = None,
) -> None:
    """End a silence now."""
    from opsbook.alerts import expire_silence

    _, estate = load_or_exit(config)
    if not expire_silence(open_history(estate), silence_id):
        err.print(f"error: no active silence {silence_id}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS)
    say(f"silence {silence_id} expired")
