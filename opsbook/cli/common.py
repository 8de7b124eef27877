"""What every command group shares: the consoles, the --config option, exit codes, result tables.

The consoles never read Rich markup or emoji codes: what the CLI prints comes from configs,
targets and the history (a silence pattern `[a-z]*`, a component `[/]`), and once markup was
read from it, one stored value broke `incident list` and `silence list` for good. Style is
given explicitly (`Text(..., style=...)`) where the CLI wants it.

`run_app` is the last line of defence: a failure no command handled (the history store
unreachable, a value it refuses, a folder that cannot be written) becomes one redacted line
and exit 1 instead of a traceback; `OPSBOOK_TRACEBACK=1` shows the traceback for debugging.

The group modules import this one and nothing else of the CLI, so each of them imports on its own
and the package assembling them (opsbook.cli) is the only module that knows them all.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsbook.config import ConfigError, EstateConfig, default_config_path, load_config
from opsbook.escaping import terminal_text
from opsbook.secrets import redact

if TYPE_CHECKING:
    from opsbook.store import HistoryStore


class SafeConsole(Console):
    """A console that never hands a control character it was given to the terminal.

    Every string it prints (a line, a table cell, a title) passes through `render_str`, so an
    escape sequence in a target's body or a stored alert shows as `\\x1b[2J` instead of clearing
    the screen. Rich's own colours are styles, added after this, and still work.
    """

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(terminal_text(text), **options)


# Piped output (CI logs, files) gets wide tables rather than messages folded at 80 columns.
out = SafeConsole(
    soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False, emoji=False, highlight=False
)
err = SafeConsole(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)


class TerminalSafeLogs(logging.Filter):
    """Log lines printed while a flow runs in this process carry outside text too (a webhook's
    answer, a note): their control characters are shown as `\\xNN` like everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = terminal_text(message)
        if safe != message:
            record.msg, record.args = safe, None
        return True


_terminal_safe_logs = TerminalSafeLogs()


def install_terminal_safe_logs() -> None:
    """Attach the filter to every console handler configured now (Prefect's included)."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for handler in {h for logger in loggers for h in logger.handlers if isinstance(h, logging.StreamHandler)}:
        if _terminal_safe_logs not in handler.filters:
            handler.addFilter(_terminal_safe_logs)


def cell(text: str) -> str:
    """Outside text for a table cell: secrets redacted (the consoles read no markup at all)."""
    return redact(text)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="estate config (default: $OPSBOOK_CONFIG or ./opsbook.yaml)"),
]

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG = 0, 1, 2
_STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "error": "bold red", "skipped": "dim"}


def load_or_exit(path: Path | None) -> tuple[Path, EstateConfig]:
    """The config file and its estate; a config that does not load ends the command with exit 2."""
    file = path or default_config_path()
    try:
        return file, load_config(file)
    except ConfigError as error:
        err.print(Text.assemble(("invalid config", "bold red"), f" {error.source}:"))
        for problem in error.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None


def say(text: str) -> None:
    """One line on stdout, secrets redacted, never read as Rich markup."""
    out.print(redact(text), markup=False, highlight=False)


def open_history(config: EstateConfig) -> HistoryStore:
    """The estate's history store (imported when a command needs it, so --help stays quick)."""
    from opsbook.store import open_store

    return open_store(config.history.url)


def print_results(title: str, results: Any) -> None:
    """Results as a table: check, target, status, value, threshold, message (redacted)."""
    table = Table(title=title, title_justify="left")
    for column in ("check", "target", "status", "value", "threshold", "message"):
        table.add_column(column, overflow="fold")
    for r in results:
        value = "" if r.value is None else f"{r.value:g} {r.unit or ''}".strip()
        threshold = "" if r.threshold is None else f"{r.threshold:g} {r.unit or ''}".strip()
        table.add_row(
            r.check,
            cell(r.target),
            Text(r.status.value, style=_STATUS_STYLE[r.status.value]),
            value,
            threshold,
            cell(r.message),
        )
    out.print(table)


def print_outcome(outcome: Any) -> None:
    """The summary table of a checklist run, then its notes and the report path."""
    print_results(f"{outcome.flow}: {outcome.verdict.value.upper()}", outcome.results)
    for note in outcome.notes:
        err.print(f"problem: {note}", markup=False, highlight=False)
    if outcome.report_path:
        out.print(f"report: {outcome.report_path}", markup=False, highlight=False, soft_wrap=True)


def run_checklist(flow_function: Any, config_file: Path, **parameters: Any) -> int:
    """Run a checklist flow in this process and turn its outcome into an exit code: 1 on a red
    estate or an incomplete run, 0 on green or amber."""
    from opsbook.flows.checklist import ChecklistOutcome
    from opsbook.flows.states import outcome_of

    err.print(f"running {flow_function.name} with {config_file} ...", markup=False, highlight=False)
    install_terminal_safe_logs()
    state = flow_function(config_path=str(config_file), return_state=True, **parameters)
    outcome = outcome_of(state)  # the outcome, not the Prefect state, decides: a red estate ends Completed
    if not isinstance(outcome, ChecklistOutcome):
        reason = outcome if isinstance(outcome, BaseException) else state.message
        err.print(f"error: {flow_function.name} did not finish: {redact(str(reason))}", markup=False, highlight=False)
        return EXIT_PROBLEMS
    print_outcome(outcome)
    return EXIT_PROBLEMS if outcome.failed else EXIT_OK


def finite_minutes(value: float) -> float:
    """A typer callback: minutes from zero to 100 years; `inf`, `nan` and negatives are usage errors."""
    from opsbook.durations import MAXIMUM

    if not math.isfinite(value) or not 0 <= value <= MAXIMUM / timedelta(minutes=1):
        raise typer.BadParameter(f"{value:g}: give a number of minutes from 0 to {MAXIMUM / timedelta(minutes=1):.0f}")
    return value


ROW_ID_MAX = 2**63 - 1  # the largest id SQLite and PostgreSQL (bigint) hold; typer's int has no bound


def failure_line(error: BaseException) -> str:
    """One redacted line for a failure no command handled: what failed, then the first line of why."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

    from opsbook.store import StoreError

    if isinstance(error, SQLAlchemyError):
        cause = error.orig if isinstance(error, DBAPIError) else error
        why = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if isinstance(error, DataError | IntegrityError):
            line = f"the history store refused a value: {why}"
        elif isinstance(error, DBAPIError) and error.connection_invalidated or "connect" in why.lower():
            line = f"history store unreachable: {why}"
        else:
            line = f"history store error: {why}"
    elif isinstance(error, StoreError):
        line = str(error).strip().splitlines()[0] if str(error).strip() else "history store failed"
    elif isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        line = f"{error.strerror or error}{where}"
    else:
        text = str(error).strip().splitlines()
        line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return redact(line)


def run_app(app: typer.Typer) -> int:
    """Run the CLI; a failure no command handled is one line on stderr and exit 1, never a traceback."""
    try:
        app()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else EXIT_PROBLEMS)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as error:
        if os.environ.get("OPSBOOK_TRACEBACK") == "1":
            raise
        err.print(f"error: {failure_line(error)}")
        return EXIT_PROBLEMS
    return EXIT_OK
