"""The `opsbook` command: validate a config, run checklists, manage the history store, demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from opsbook.config import ConfigError, EstateConfig, default_config_path, load_config
from opsbook.secrets import redact

app = typer.Typer(
    help="Production-support runbooks as code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
run_app = typer.Typer(help="Run a checklist now.", no_args_is_help=True)
db_app = typer.Typer(help="The history database.", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(db_app, name="db")

# Piped output (CI logs, files) gets wide tables rather than messages folded at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="estate config (default: $OPSBOOK_CONFIG or ./opsbook.yaml)"),
]

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG = 0, 1, 2
_STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "error": "bold red", "skipped": "dim"}


def _load_or_exit(path: Path | None) -> tuple[Path, EstateConfig]:
    file = path or default_config_path()
    try:
        return file, load_config(file)
    except ConfigError as error:
        err.print(f"[bold red]invalid config[/] {error.source}:", highlight=False)
        for problem in error.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None


@app.command()
def validate(config: ConfigOption = None) -> None:
    """Check a config file; exit 2 with one line per problem when it is not valid."""
    file, estate = _load_or_exit(config)
    out.print(f"{file}: valid, {estate.summary()}", markup=False, highlight=False)


@app.command()
def init(
    folder: Annotated[
        Path, typer.Argument(help="where to write opsbook.yaml and prefect.yaml (created if missing)")
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="replace files that are already there")] = False,
) -> None:
    """Write a starter opsbook.yaml (every key annotated) and prefect.yaml into FOLDER."""
    from opsbook.starter import write_starter

    try:
        written = write_starter(folder, overwrite=force)
    except OSError as error:
        err.print(f"cannot write the starter files into {folder}: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    for item in written:
        verb = "wrote" if item.created else "kept (already there; --force replaces it)"
        out.print(f"{verb} {item.path}", markup=False, highlight=False)
    home = folder.resolve()
    out.print(
        f"next: edit {home / 'opsbook.yaml'}, then `opsbook validate -c {home / 'opsbook.yaml'}`; to schedule, "
        f"OPSBOOK_DIR={home} OPSBOOK_CONFIG={home / 'opsbook.yaml'} prefect deploy --all "
        f"(or `opsbook serve -c {home / 'opsbook.yaml'}`)",
        markup=False,
        highlight=False,
    )


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply pending migrations to the history store."""
    from opsbook.store import HistoryStore, StoreError

    _, estate = _load_or_exit(config)
    store = HistoryStore(estate.history.url)
    try:
        revision = store.upgrade()
    except StoreError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    out.print(f"{store!r} is at revision {revision}", markup=False, highlight=False)


@db_app.command("prune")
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

    _, estate = _load_or_exit(config)
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
    """Run a checklist flow in this process and turn its outcome into an exit code."""
    from opsbook.flows.checklist import ChecklistOutcome

    err.print(f"running {flow_function.name} with {config_file} ...", markup=False, highlight=False)
    state = flow_function(config_path=str(config_file), return_state=True, **parameters)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, ChecklistOutcome):
        reason = outcome if isinstance(outcome, BaseException) else state.message
        err.print(f"error: {flow_function.name} did not finish: {redact(str(reason))}", markup=False, highlight=False)
        return EXIT_PROBLEMS
    print_outcome(outcome)
    return EXIT_PROBLEMS if outcome.failed else EXIT_OK


@run_app.command("daily")
def run_daily(config: ConfigOption = None) -> None:
    """Run the daily checklist now (exit 0 ok/warn, 1 fail/error, 2 bad config)."""
    from opsbook.flows.daily import daily_checklist

    file, _ = _load_or_exit(config)
    raise typer.Exit(run_checklist(daily_checklist, file))


@run_app.command("database-maintenance")
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
    """Run the weekly database maintenance now, a dry run unless --apply.

    Exits 0 on ok/warn, 1 on fail/error, 2 on a bad config.
    """
    from opsbook.flows.database_maintenance import MaintenanceParameters, database_maintenance

    file, _ = _load_or_exit(config)
    params = MaintenanceParameters(apply=apply, databases=database or [])
    raise typer.Exit(run_checklist(database_maintenance, file, params=params))


@run_app.command("capacity")
def run_capacity(config: ConfigOption = None) -> None:
    """Run capacity planning now: trends, 90-day projections, scaling and cost (exit 1 on fail/error)."""
    from opsbook.flows.capacity import capacity_planning

    file, _ = _load_or_exit(config)
    raise typer.Exit(run_checklist(capacity_planning, file))


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Serve every deployment of prefect.yaml on its schedule from this one process (Ctrl-C stops)."""
    from opsbook.deployments.serve import serve_all

    file, _ = _load_or_exit(config)
    err.print(f"serving opsbook deployments with {file}; schedules in prefect.yaml", markup=False, highlight=False)
    serve_all(file)


@run_app.command("weekly")
def run_weekly(
    config: ConfigOption = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="really compress/delete logs, run database maintenance and cache actions")
    ] = False,
) -> None:
    """Run the weekly maintenance now (dry run unless --apply)."""
    from opsbook.flows.weekly import weekly_maintenance

    file, _ = _load_or_exit(config)
    raise typer.Exit(run_checklist(weekly_maintenance, file, apply=apply))


@run_app.command("monthly")
def run_monthly(config: ConfigOption = None) -> None:
    """Run the monthly audit now: health audit, reviews, DR drill, runbook coverage, costs, KPIs."""
    from opsbook.flows.monthly import monthly_audit

    file, _ = _load_or_exit(config)
    raise typer.Exit(run_checklist(monthly_audit, file))


@run_app.command("cost-review")
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
    file, _ = _load_or_exit(config)
    raise typer.Exit(run_checklist(cost_review, file, month=month))


@app.command()
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

    _, estate = _load_or_exit(config)
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


# --- security (issue 7) ------------------------------------------------------------------------
security_app = typer.Typer(
    help="Security operations: the daily security check and security incidents.", no_args_is_help=True
)
app.add_typer(security_app, name="security")


@run_app.command("security")
@security_app.command("check")
def run_security(config: ConfigOption = None) -> None:
    """Run the security health check now (exit 0 ok/warn, 1 fail/error, 2 bad config)."""
    from opsbook.flows.security import security_health_check

    file, _ = _load_or_exit(config)
    raise typer.Exit(run_checklist(security_health_check, file))


@security_app.command("incident")
def security_incident(
    incident_type: Annotated[
        str, typer.Option("--type", help="brute_force, injection_attempt, suspicious_activity, data_breach or other")
    ],
    ip: Annotated[str | None, typer.Option("--ip", help="the source IP")] = None,
    severity: Annotated[str, typer.Option(help="critical, high, medium or low")] = "high",
    summary: Annotated[str, typer.Option(help="what was seen")] = "",
    lookback_hours: Annotated[float, typer.Option(help="evidence window")] = 24,
    apply: Annotated[bool, typer.Option("--apply", help="really change the blocklist (default: dry run)")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before changing the blocklist")] = False,
    config: ConfigOption = None,
) -> None:
    """Run the security incident response: evidence, priority, containment (dry run by default)."""
    from pydantic import ValidationError

    from opsbook.flows.security_incident import (
        SecurityIncidentOutcome,
        SecurityIncidentParams,
        security_incident_response,
    )

    file, _ = _load_or_exit(config)
    try:
        params = SecurityIncidentParams(
            incident_type=incident_type,
            source_ip=ip,
            severity=severity,
            summary=summary,
            lookback_hours=lookback_hours,
            dry_run=not apply,
            require_approval=False,
            config_path=str(file),
        )
    except ValidationError as error:
        for problem in error.errors(include_url=False, include_input=False):
            err.print(
                f"{'.'.join(map(str, problem['loc'])) or 'parameters'}: {problem['msg']}", markup=False, highlight=False
            )
        raise typer.Exit(EXIT_CONFIG) from None
    if apply and not yes and not typer.confirm(f"Change the blocklist for {ip}?"):
        raise typer.Exit(EXIT_PROBLEMS)  # the terminal user is the approver here
    err.print(
        f"running security-incident-response ({'apply' if apply else 'dry run'}) ...", markup=False, highlight=False
    )
    state = security_incident_response(params=params, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, SecurityIncidentOutcome):
        err.print(f"error: the flow did not finish: {redact(str(outcome))}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS)
    record = outcome.record
    out.print(
        f"{record.reference} {record.incident_type} {record.severity} (escalation level {record.escalation_level}"
        f"{', executives' if record.executive_escalation else ''}); "
        f"evidence: {record.evidence.get('events', 0)} events",
        markup=False,
        highlight=False,
    )
    for key, value in record.actions.items():
        out.print(f"  {key}: {redact(str(value))}", markup=False, highlight=False)
    for note in outcome.notes:
        err.print(f"problem: {note}", markup=False, highlight=False)
    raise typer.Exit(EXIT_PROBLEMS if state.is_failed() else EXIT_OK)


def _default_demo_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "opsbook" / "demo"


@app.command()
def demo(
    workdir: Annotated[Path | None, typer.Option(help="where the demo keeps its history and reports")] = None,
) -> None:
    """Start a demo estate on loopback and run the daily checklist against it (no setup needed)."""
    from opsbook.demo.estate import demo_estate
    from opsbook.flows.daily import daily_checklist

    folder = (workdir or _default_demo_dir()).resolve()
    with demo_estate(folder) as estate:
        config_file = estate.write_config()
        err.print(f"demo estate up on loopback; config {config_file}", markup=False, highlight=False)
        code = run_checklist(daily_checklist, config_file)
    raise typer.Exit(code)


from opsbook.cli_incidents import alerts_app, incident_app, notify_app, silence_app  # noqa: E402 - needs the helpers above
from opsbook.cli_metrics import metrics_app  # noqa: E402 - needs the helpers above

app.add_typer(incident_app, name="incident")
app.add_typer(alerts_app, name="alerts")
app.add_typer(metrics_app, name="metrics")
app.add_typer(silence_app, name="silence")
app.add_typer(notify_app, name="notify")
# -- backups (issue 6) -------------------------------------------------------------------------
backup_app = typer.Typer(
    help="Backups: create one with its manifest, verify, prune by retention.", no_args_is_help=True
)
app.add_typer(backup_app, name="backup")


def _backup_repository(estate: EstateConfig, name: str | None) -> Any:
    repos = estate.backups.repositories
    if not repos:
        err.print("error: no backups.repositories configured", highlight=False)
        raise typer.Exit(EXIT_CONFIG)
    if name is None:
        return repos[0]
    try:
        return estate.backups.repository(name)
    except KeyError as error:
        err.print(f"error: {error.args[0]}; configured: {', '.join(r.name for r in repos)}", highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None


@backup_app.command("create")
def backup_create(
    config: ConfigOption = None,
    database: Annotated[str | None, typer.Option(help="database name on the server of backups.source_url")] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="postgresql:// URL to dump (overrides source_url; prefer ${ENV} in the config for passwords)"
        ),
    ] = None,
    repository: Annotated[str | None, typer.Option(help="repository name (default: the first)")] = None,
) -> None:
    """Dump a database with pg_dump into a repository and write its manifest (exit 1 on failure)."""
    from opsbook.tasks.backups.create import create_backup
    from opsbook.tasks.backups.pgtools import with_database

    _, estate = _load_or_exit(config)
    repo = _backup_repository(estate, repository)
    source = url or estate.backups.source_url
    if not source:
        err.print("error: give --url or set backups.source_url", highlight=False)
        raise typer.Exit(EXIT_CONFIG)
    source = source.replace("postgresql://", "postgresql+psycopg://", 1)
    if database:
        source = with_database(source, database)
    try:
        path = create_backup(source, repo, progress=lambda line: err.print(redact(line), markup=False, highlight=False))
    except Exception as error:
        from opsbook.results import describe_exception

        err.print(f"error: backup failed: {redact(describe_exception(error))}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    out.print(str(path), markup=False, highlight=False)


@backup_app.command("verify")
def backup_verify(
    config: ConfigOption = None,
    repository: Annotated[str | None, typer.Option(help="only this repository")] = None,
) -> None:
    """Verify the newest backup of each repository now, restore test included (exit 1 on fail/error)."""
    from opsbook.flows.checklist import ChecklistOutcome
    from opsbook.results import verdict_of
    from opsbook.tasks.backups.verify import verify_repository

    _, estate = _load_or_exit(config)
    repos = [_backup_repository(estate, repository)] if repository else estate.backups.repositories
    results = []
    for repo in repos:
        err.print(f"verifying {repo.name} ({repo.path}) ...", markup=False, highlight=False)
        results += verify_repository(repo, estate.backups.restore_server)[0]
    outcome = ChecklistOutcome(
        run_id="-", flow="backup-verify", verdict=verdict_of(results), results=results, report_path=None
    )
    print_outcome(outcome)
    raise typer.Exit(EXIT_PROBLEMS if outcome.failed else EXIT_OK)


@backup_app.command("prune")
def backup_prune(
    config: ConfigOption = None,
    repository: Annotated[str | None, typer.Option(help="repository name (default: the first)")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="delete; without it, only list what would go")] = False,
) -> None:
    """List (or with --apply delete) the backups the retention policy does not keep; never the newest."""
    from opsbook.tasks.backups.files import list_backups
    from opsbook.tasks.backups.retention import plan_retention, prune

    _, estate = _load_or_exit(config)
    repo = _backup_repository(estate, repository)
    try:
        backups = list_backups(repo)
        plan = plan_retention(backups, repo.retention)
        removed = prune(repo, plan, apply=apply)
    except (OSError, ValueError) as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    for name, why in sorted(plan.keep.items(), reverse=True):
        out.print(f"keep   {name}  ({', '.join(why)})", markup=False, highlight=False)
    for name in removed:
        out.print(f"{'pruned' if apply else 'prune?'} {name}", markup=False, highlight=False)
    if not apply and removed:
        err.print(f"dry run: {len(removed)} backup(s) would be pruned; add --apply to delete them", highlight=False)


@app.command("dr")
def disaster_recovery_command(
    target: Annotated[str, typer.Option(help="DR target name in backups.disaster_recovery.targets")],
    config: ConfigOption = None,
    scenario: Annotated[
        str,
        typer.Option(help="database-loss, data-corruption, region-outage, platform-outage, security-breach or drill"),
    ] = "drill",
    activate: Annotated[
        bool,
        typer.Option(
            "--activate",
            help="a REAL activation: restore into the target and "
            "offer switch-over actions for approval in the "
            "Prefect UI (default: a drill)",
        ),
    ] = False,
) -> None:
    """Run the disaster-recovery flow now: a drill by default (exit 0 ok/warn, 1 fail/error, 2 bad input)."""
    from pydantic import ValidationError

    from opsbook.flows.disaster_recovery import DisasterRecoveryParams, disaster_recovery

    file, estate = _load_or_exit(config)
    targets = [t.name for t in estate.backups.disaster_recovery.targets]
    if target not in targets:
        err.print(f"error: unknown DR target {target!r}; configured: {', '.join(targets) or 'none'}", highlight=False)
        raise typer.Exit(EXIT_CONFIG)
    try:
        params = DisasterRecoveryParams(config_path=str(file), target=target, scenario=scenario, drill=not activate)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            err.print(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None

    class _WithParams:  # run_checklist calls flow(config_path=..., return_state=True)
        name = disaster_recovery.name

        def __call__(self, **_: Any) -> Any:
            return disaster_recovery(params, return_state=True)

    raise typer.Exit(run_checklist(_WithParams(), file))


def main() -> None:
    # Without PREFECT_API_URL, Prefect starts a temporary server; its 20 s default start-up limit
    # is too tight on a busy two-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    sys.exit(app())
