"""`opsbook demo`: a demo estate on loopback and the daily checklist against it, no setup needed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.common import err, run_checklist


def _default_demo_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "opsbook" / "demo"


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
