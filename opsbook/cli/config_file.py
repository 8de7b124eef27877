"""`opsbook validate` and `opsbook init`: check a config file, or write a starter one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.common import EXIT_PROBLEMS, ConfigOption, err, load_or_exit, out


def validate(config: ConfigOption = None) -> None:
    """Check a config file; exit 2 with one line per problem when it is not valid."""
    file, estate = load_or_exit(config)
    out.print(f"{file}: valid, {estate.summary()}", markup=False, highlight=False)


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
