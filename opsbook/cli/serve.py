"""`opsbook serve`: every deployment of prefect.yaml on its schedule, from this one process."""

from __future__ import annotations

from opsbook.cli.common import ConfigOption, err, load_or_exit


def serve(config: ConfigOption = None) -> None:
    """Serve every deployment of prefect.yaml on its schedule from this one process (Ctrl-C stops)."""
    from opsbook.deployments.serve import serve_all

    file, _ = load_or_exit(config)
    err.print(f"serving opsbook deployments with {file}; schedules in prefect.yaml", markup=False, highlight=False)
    serve_all(file)
