"""`opsbook metrics try`: read the application's JSON API as the daily steps would, keeping nothing."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from opsbook.cli.common import EXIT_OK, EXIT_PROBLEMS, ConfigOption, err, load_or_exit, print_results
from opsbook.results import Status
from opsbook.secrets import redact

app = typer.Typer(help="The application's metrics API (metrics_sources).", no_args_is_help=True)


@app.command("try")
def metrics_try(
    source: Annotated[str | None, typer.Option(help="only this metrics source (default: all)")] = None,
    endpoint: Annotated[str | None, typer.Option(help="only this endpoint (default: all)")] = None,
    config: ConfigOption = None,
) -> None:
    """Fetch the endpoints now and show every figure read and judged; nothing is stored or alerted.

    For trying a mapping: a wrong JSON path, an HTML error page or a bad token shows as an error
    naming it. Exit 0 when everything was read and is ok or warn, 1 otherwise, 2 on a bad config.
    """
    from opsbook.tasks.app_metrics import try_mapping

    _, estate = load_or_exit(config)
    err.print("reading the metrics API ...", markup=False, highlight=False)
    try:
        results = asyncio.run(try_mapping(estate, source, endpoint))
    except LookupError as error:
        err.print(f"error: {redact(str(error))}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    print_results("metrics try (nothing stored)", results)
    raise typer.Exit(EXIT_PROBLEMS if any(r.status in (Status.FAIL, Status.ERROR) for r in results) else EXIT_OK)
