"""prefect.yaml end to end: a real server, `prefect deploy --all`, a real process worker, artifacts
read back through the API, and a screenshot of the flow-run page in the Prefect UI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from prefect.settings import PREFECT_API_URL, temporary_settings

from opsbook.config import HttpSettings
from opsbook.demo.server import LoopbackServer, Reply
from opsbook.deployments.local_server import local_prefect_server
from opsbook.incidents import list_incidents
from opsbook.reports.browser import chromium_path, visit
from opsbook.results import Status
from opsbook.store import HistoryStore
from opsbook.tasks.monitoring import check_prefect_server, check_schedules
from tests.helpers import write_config

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


# Each ad-hoc deployment's parameter model, what a run gives it (no config path), how it ends.
AD_HOC = {
    "incident-response": "request",
    "security-incident": "params",
    "disaster-recovery": "params",
    "performance-investigation": "request",
    "resource-backfill": "parameters",
}
AD_HOC_RUNS: dict[str, dict] = {
    "incident-response": {"request": {"severity": "P3", "description": "e2e from the Run form"}},
    "security-incident": {"params": {"incident_type": "other", "summary": "e2e"}},
    "disaster-recovery": {"params": {"target": "primary"}},
    "performance-investigation": {},
    "resource-backfill": {},
}
AD_HOC_ENDS = {  # the config was read in every case: the estate's own answer, never a ConfigError
    "incident-response": ("COMPLETED", "opened (P3)"),
    "security-incident": ("COMPLETED", "SEC-"),
    "disaster-recovery": ("FAILED", "unknown DR target 'primary' (known: none configured)"),
    "performance-investigation": ("COMPLETED", ""),
    "resource-backfill": ("FAILED", "resources.prometheus is not configured"),
}


def wait_for(api: httpx.Client, runs: dict[str, dict], timeout_s: float) -> dict[str, dict]:
    """Each run's final state (or its last state when the time is up)."""
    deadline = time.monotonic() + timeout_s
    states: dict[str, dict] = {}
    while time.monotonic() < deadline:
        states = {name: api.get(f"/flow_runs/{r['id']}").json()["state"] for name, r in runs.items()}
        if all(state["type"] in TERMINAL for state in states.values()):
            break
        time.sleep(1)
    return states


def expected_schedules() -> dict[str, list[dict]]:
    """What prefect.yaml declares: deployment name -> its schedules."""
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return {d["name"]: d.get("schedules", []) for d in spec["deployments"]}


def test_every_schedule_has_a_slug_and_a_time_zone() -> None:
    for name, schedules in expected_schedules().items():
        for schedule in schedules:
            assert schedule.get("slug"), f"{name}: a schedule without a slug duplicates runs on redeploy"
            assert schedule.get("timezone") == "UTC", name


def test_every_flow_is_deployed_so_the_ui_can_run_it() -> None:
    """Scheduled checklists and ad-hoc runbooks alike: each @flow in flows/ has a deployment."""
    import ast

    declared = {d["entrypoint"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    flows = {
        f"opsbook.flows.{path.stem}:{node.name}"
        for path in sorted((ROOT / "flows").glob("*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any("flow" in ast.unparse(d).split("(")[0] for d in node.decorator_list)
    }
    assert flows and flows <= declared, sorted(flows - declared)


def test_deploy_schedule_trigger_and_run_through_a_worker(tmp_path: Path) -> None:
    with (
        LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}) as target,
        local_prefect_server(tmp_path / "prefect") as prefect,
    ):
        config = write_config(
            tmp_path,
            {
                "estate": "e2e",
                "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
                "reports": {"directory": str(tmp_path / "reports")},
                "platforms": [{"name": "fly", "url": target.url("/health")}],
            },
        )
        env = {"OPSBOOK_DIR": str(ROOT), "OPSBOOK_CONFIG": str(config)}

        created = prefect.cli("work-pool", "create", "opsbook", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = prefect.cli("deploy", "--all", cwd=ROOT, extra_env=env)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr

        api = httpx.Client(base_url=prefect.api_url, timeout=30)
        deployments = {d["name"]: d for d in api.post("/deployments/filter", json={}).json()}
        for name, schedules in expected_schedules().items():
            assert name in deployments, f"deployment {name} missing"
            stored = deployments[name]["schedules"]
            assert {s["slug"] for s in stored} == {s["slug"] for s in schedules}
            for declared in schedules:
                [match] = [s for s in stored if s["slug"] == declared["slug"]]
                assert match["schedule"]["cron"] == declared["cron"]
                assert match["schedule"]["timezone"] == declared["timezone"]
        daily = deployments["daily"]
        assert daily["parameters"]["config_path"] == str(config)

        # The weekly monitoring check sees the same thing, and notices a paused schedule.
        slugs = {name: [s["slug"] for s in schedules] for name, schedules in expected_schedules().items()}
        with temporary_settings({PREFECT_API_URL: prefect.api_url}):
            assert all(r.status is Status.OK for r in asyncio.run(check_schedules(slugs, HttpSettings())))
            [schedule] = daily["schedules"]
            api.patch(
                f"/deployments/{daily['id']}/schedules/{schedule['id']}", json={"active": False}
            ).raise_for_status()
            paused = {r.target: r for r in asyncio.run(check_schedules(slugs, HttpSettings()))}
            assert paused["daily"].status is Status.FAIL and "daily-0800-utc" in paused["daily"].message
            api.patch(
                f"/deployments/{daily['id']}/schedules/{schedule['id']}", json={"active": True}
            ).raise_for_status()
            assert asyncio.run(check_prefect_server(HttpSettings())).status is Status.OK

        run = api.post(f"/deployments/{daily['id']}/create_flow_run", json={"name": "e2e-daily"}).json()
        # The ad-hoc runbooks as the Run form or a trigger starts them: no config path given.
        for name, wrapper in AD_HOC.items():
            assert deployments[name]["parameters"] == {wrapper: {"config_path": str(config)}}, name
            assert deployments[name]["job_variables"]["env"]["OPSBOOK_CONFIG"] == str(config), name
        ad_hoc = {
            name: api.post(
                f"/deployments/{deployments[name]['id']}/create_flow_run", json={"parameters": parameters}
            ).json()
            for name, parameters in AD_HOC_RUNS.items()
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "opsbook", "--type", "process"],
            # Not the worker's own OPSBOOK_CONFIG: runs get the deployed one from the job variables.
            env={**prefect.env, "OPSBOOK_DIR": str(ROOT)},
            cwd=tmp_path,
            stdout=(tmp_path / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        try:
            states = wait_for(api, {"daily": run, **ad_hoc}, timeout_s=600)
        finally:
            worker.terminate()
            worker.wait(30)
        worker_log = (tmp_path / "worker.log").read_text()[-3000:]
        assert states["daily"]["type"] == "COMPLETED", (states["daily"], worker_log)
        for name, (kind, message) in AD_HOC_ENDS.items():
            state = states[name]
            assert state["type"] == kind and message in (state["message"] or ""), (name, state["message"], worker_log)
            assert "ConfigError" not in (state["message"] or ""), name
        store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")  # the deployed config's history
        assert {i.description for i in list_incidents(store)} >= {"e2e from the Run form"}
        assert store.latest_runs("performance-investigation")
        read = api.get(f"/flow_runs/{run['id']}").json()
        assert read["name"] == f"daily-checklist-{read['start_time'][:10]}-green" and "verdict:green" in read["tags"]

        artifacts = api.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
        keys = {a["key"] for a in artifacts if a["key"]}
        assert {"daily-report", "daily-report-results", "daily-report-link"} <= keys
        assert "GREEN" in next(a["data"] for a in artifacts if a["key"] == "daily-report")

        if chromium_path() is None:
            pytest.skip("Debian's chromium is not installed: no UI screenshot (.ci/run installs it)")
        shots = Path(os.environ.get("OPSBOOK_TEST_SCREENSHOTS") or tmp_path / "screenshots")
        png = shots / "prefect-ui-flow-run.png"
        seen = visit(
            f"{prefect.ui_url}/runs/flow-run/{run['id']}",
            png,
            allow_prefixes=(prefect.ui_url,),
            selectors=("body",),
            wait_for=f"text={read['name']}",
            timeout_ms=60_000,
        )
        assert read["name"] in seen.texts["body"]
        assert png.stat().st_size > 20_000


def test_serve_builds_every_deployment_of_prefect_yaml(tmp_path: Path) -> None:
    from opsbook.deployments.serve import read_specs

    specs = read_specs({"OPSBOOK_CONFIG": str(tmp_path / "opsbook.yaml"), "OPSBOOK_DIR": str(ROOT)})
    assert {s.name for s in specs} == set(expected_schedules())
    daily = next(s for s in specs if s.name == "daily")
    assert daily.flow.name == "daily-checklist"
    assert daily.parameters == {"config_path": str(tmp_path / "opsbook.yaml")}
    [schedule] = daily.schedules
    assert (schedule.cron, schedule.timezone, schedule.slug) == ("0 8 * * *", "UTC", "daily-0800-utc")
    assert daily.concurrency.limit == 1 and daily.concurrency.collision_strategy == "CANCEL_NEW"
