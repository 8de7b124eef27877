"""`opsbook db upgrade|prune`: the history database's schema and retention."""

from __future__ import annotations

from typing import Annotated

import typer

from opsbook.cli.common import EXIT_OK, EXIT_PROBLEMS, ConfigOption, err, load_or_exit, out

app = typer.Typer(help="The history database.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply pending migrations to the history store."""
    from opsbook.store import HistoryStore, StoreError

    _, estate = load_or_exit(config)
    store = HistoryStore(estate.history.url)
    try:
        revision = store.upgrade()
    except StoreError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    out.print(f"{store!r} is at revision {revision}", markup=False, highlight=False)


@app.command("prune")
def db_prune(
    apply: Annotated[bool, typer.Option("--apply", help="really delete (default: count only)")] = False,
    days: Annotated[
        int | None, typer.Option(min=90, max=3650, help="keep this many days (default: history.retention_days)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Delete runs, results, samples and deliveries older than the retention; a dry run unless --apply."""
    from opsbook.store import StoreError
    from opsbook.tasks.history import prune_history

    _, estate = load_or_exit(config)
    keep = days or estate.history.retention_days
    if keep is None:
        err.print("history.retention_days is null and no --days given: nothing to prune", markup=False)
        raise typer.Exit(EXIT_OK)
    err.print(f"{'pruning' if apply else 'counting'} rows older than {keep} days ...", markup=False)
    try:
        [result] = prune_history.fn(estate.history.url, keep, apply)  # the weekly routine's own step
    except StoreError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    out.print(result.message, markup=False, highlight=False)
