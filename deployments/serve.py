"""`opsbook serve`: one process that serves every deployment of prefect.yaml on its schedule.

For a small team: no work pool, no worker. prefect.yaml stays the single source of the
schedules; this module reads it and hands each deployment to `prefect.serve`.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.schedules import Cron, Schedule

from opsbook.config.loader import CONFIG_ENV
from opsbook.starter import PREFECT_YAML

_ENV_TEMPLATE = re.compile(r"\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    flow: Flow[..., Any]
    description: str
    parameters: dict[str, Any]
    schedules: list[Schedule]
    concurrency: ConcurrencyLimitConfig | None


def _fill(value: Any, variables: dict[str, str]) -> Any:
    """Resolve prefect.yaml's `{{ $VAR }}` templates the way `prefect deploy` does."""
    if isinstance(value, str):
        return _ENV_TEMPLATE.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    return value


def load_flow(entrypoint: str) -> Flow[..., Any]:
    """`opsbook.flows.daily:daily_checklist` -> the flow object (imported from the installed package)."""
    module_name, _, attribute = entrypoint.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def read_specs(variables: dict[str, str], path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    document = yaml.safe_load(path.read_text())
    specs = []
    for entry in document["deployments"]:
        entry = _fill(entry, variables)
        limit = entry.get("concurrency_limit")
        specs.append(
            DeploymentSpec(
                name=entry["name"],
                flow=load_flow(entry["entrypoint"]),
                description=entry.get("description", ""),
                parameters=entry.get("parameters", {}),
                schedules=[
                    Cron(s["cron"], timezone=s.get("timezone"), slug=s.get("slug"), active=s.get("active", True))
                    for s in entry.get("schedules", [])
                ],
                concurrency=ConcurrencyLimitConfig(**limit) if isinstance(limit, dict) else None,
            )
        )
    return specs


def expected_schedule_slugs(path: Path = PREFECT_YAML) -> dict[str, list[str]]:
    """Deployment name -> the slugs of its schedules, as prefect.yaml declares them."""
    document = yaml.safe_load(path.read_text())
    return {d["name"]: [s["slug"] for s in d.get("schedules", [])] for d in document["deployments"]}


def serve_all(config_path: Path) -> None:
    """Serve every deployment until interrupted (Ctrl-C)."""
    from prefect import serve
    from prefect.deployments.runner import RunnerDeployment

    config = str(config_path.resolve())
    os.environ[CONFIG_ENV] = config  # what prefect.yaml's job variables give a worker's runs
    specs = read_specs({"OPSBOOK_CONFIG": config, "OPSBOOK_DIR": str(config_path.resolve().parent)})
    deployments = [
        spec.flow.to_deployment(
            name=spec.name,
            description=spec.description,
            parameters=spec.parameters,
            schedules=spec.schedules,
            concurrency_limit=spec.concurrency,
        )
        for spec in specs
    ]
    serve(*cast(list[RunnerDeployment], deployments))  # outside an event loop: deployments, not coroutines
