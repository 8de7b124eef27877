"""`opsbook dr`: the disaster-recovery flow now, a drill unless --activate."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opsbook.cli.common import EXIT_CONFIG, ConfigOption, err, load_or_exit, run_checklist


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

    file, estate = load_or_exit(config)
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
