"""`opsbook backup create|verify|prune`: a backup with its manifest, verification, retention."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opsbook.cli.common import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, ConfigOption, err, load_or_exit, out, print_outcome
from opsbook.config import EstateConfig
from opsbook.secrets import redact

app = typer.Typer(help="Backups: create one with its manifest, verify, prune by retention.", no_args_is_help=True)


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


@app.command("create")
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

    _, estate = load_or_exit(config)
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


@app.command("verify")
def backup_verify(
    config: ConfigOption = None,
    repository: Annotated[str | None, typer.Option(help="only this repository")] = None,
) -> None:
    """Verify the newest backup of each repository now, restore test included (exit 1 on fail/error)."""
    from opsbook.flows.checklist import ChecklistOutcome
    from opsbook.results import verdict_of
    from opsbook.tasks.backups.verify import verify_repository

    _, estate = load_or_exit(config)
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


@app.command("prune")
def backup_prune(
    config: ConfigOption = None,
    repository: Annotated[str | None, typer.Option(help="repository name (default: the first)")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="delete; without it, only list what would go")] = False,
) -> None:
    """List (or with --apply delete) the backups the retention policy does not keep; never the newest."""
    from opsbook.tasks.backups.files import list_backups
    from opsbook.tasks.backups.retention import plan_retention, prune

    _, estate = load_or_exit(config)
    repo = _backup_repository(estate, repository)
    try:
        backups = list_backups(repo)
        plan = plan_retention(backups, repo.retention, max_skew=repo.max_clock_skew)
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
