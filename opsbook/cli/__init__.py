"""The `opsbook` command: validate a config, run checklists, manage the history store, demo.

This module only assembles: each command group lives in a module of its own (checklists, db,
security, incidents, ...) that imports opsbook.cli.common and never another group or this
module, so any of them imports on its own. The order below is the order `opsbook --help` lists.
"""

from __future__ import annotations

import os
import sys

import typer

from opsbook.cli import (
    alerts,
    backfill,
    backup,
    checklists,
    common,
    config_file,
    db,
    demo,
    dr,
    incidents,
    metrics,
    notify,
    security,
    serve,
    silence,
)

__all__ = ["app", "main"]

app = typer.Typer(
    help="Production-support runbooks as code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command()(config_file.validate)
app.command()(config_file.init)
app.command()(serve.serve)
app.command()(backfill.backfill)
app.command()(demo.demo)
app.command("dr")(dr.disaster_recovery_command)

checklists.app.command("security")(security.run_security)  # `opsbook run security` = `opsbook security check`
app.add_typer(checklists.app, name="run")
app.add_typer(db.app, name="db")
app.add_typer(security.app, name="security")
app.add_typer(incidents.app, name="incident")
app.add_typer(alerts.app, name="alerts")
app.add_typer(metrics.app, name="metrics")
app.add_typer(silence.app, name="silence")
app.add_typer(notify.app, name="notify")
app.add_typer(backup.app, name="backup")


def main() -> None:
    # Without PREFECT_API_URL, Prefect starts a temporary server; its 20 s default start-up limit
    # is too tight on a busy two-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    sys.exit(common.run_app(app))
