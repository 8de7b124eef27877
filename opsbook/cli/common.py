"""What every command group shares: the consoles, the --config option, exit codes, result tables.

The group modules import this one and nothing else of the CLI, so each of them imports on its own
and the package assembling them (opsbook.cli) is the only module that knows them all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from opsbook.config import ConfigError, EstateConfig, default_config_path, load_config
from opsbook.secrets import redact

if TYPE_CHECKING:
    from opsbook.store import HistoryStore

# Piped output (CI logs, files) gets wide tables rather than messages folded at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

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
        err.print(f"[bold red]invalid config[/] {error.source}:", highlight=False)
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
            redact(r.target),
            f"[{_STATUS_STYLE[r.status.value]}]{r.status.value}[/]",
            value,
            threshold,
            redact(r.message).replace("[", r"\["),
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
    state = flow_function(config_path=str(config_file), return_state=True, **parameters)
    outcome = outcome_of(state)  # the outcome, not the Prefect state, decides: a red estate ends Completed
    if not isinstance(outcome, ChecklistOutcome):
        reason = outcome if isinstance(outcome, BaseException) else state.message
        err.print(f"error: {flow_function.name} did not finish: {redact(str(reason))}", markup=False, highlight=False)
        return EXIT_PROBLEMS
    print_outcome(outcome)
    return EXIT_PROBLEMS if outcome.failed else EXIT_OK
