"""Fault injection across the checklist machinery: concurrent writers, a killed run, a retried flow."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.demo.server import LoopbackServer, Reply
from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore, Sample
from tests.helpers import write_config

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _writer(url: str, flow: str, runs: int) -> None:
    """One process writing runs and samples as fast as it can (a checklist and an ad-hoc flow)."""
    store = HistoryStore(url)
    for n in range(runs):
        results = [
            CheckResult(
                check="platform.health",
                target=f"t{i}",
                component="platforms",
                status=Status.OK,
                value=float(i),
                started_at=T0 + timedelta(minutes=n),
            )
            for i in range(20)
        ]
        store.record_run(
            run_id=f"{flow}-{n}",
            flow=flow,
            estate="e",
            started_at=T0 + timedelta(minutes=n),
            finished_at=None,
            results=results,
        )
        store.add_samples([Sample(f"{flow}.m", float(i), T0 + timedelta(minutes=n, seconds=i)) for i in range(50)])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_flows_writing_the_same_store_at_once_lose_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    HistoryStore(url).upgrade()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(url, flow, 25)) for flow in ("daily-checklist", "incident")]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
    assert [p.exitcode for p in writers] == [0, 0], "a writer failed (lock error?)"
    store = HistoryStore(url)
    for flow in ("daily-checklist", "incident"):
        runs = store.latest_runs(flow, limit=100)
        assert len(runs) == 25
        assert all(len(run.results) == 20 for run in runs)
        assert len(store.samples(f"{flow}.m")) == 25 * 50


def test_a_run_killed_mid_write_leaves_the_store_intact_and_the_next_run_works(tmp_path: Path) -> None:
    """SIGKILL a real checklist process while it works; SQLite stays consistent; a rerun stores."""
    with LoopbackServer(
        {"/slow": lambda r: Reply(200, "ok", delay_s=0.3), "/ok": lambda r: Reply(200, "ok")}
    ) as server:
        history = tmp_path / "history.db"
        config = write_config(
            tmp_path,
            {
                "history": {"url": f"sqlite:///{history}"},
                "reports": {"directory": str(tmp_path / "reports")},
                "http": {"concurrency": 4},
                "platforms": [{"name": f"p{i}", "url": server.url("/slow")} for i in range(40)],
            },
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
        HistoryStore(f"sqlite:///{history}").upgrade()
        # Its own session, so the kill takes Prefect's temporary server child with it, as a
        # container or systemd stop would; an orphaned server would hold PREFECT_HOME's database.
        victim = subprocess.Popen(
            [sys.executable, "-m", "opsbook", "run", "daily", "-c", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while server.hits.get("/slow", 0) < 8 and time.monotonic() < deadline:  # checks are under way
            time.sleep(0.1)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(30)
        assert victim.returncode == -signal.SIGKILL

        with sqlite3.connect(history) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        fixed = write_config(
            tmp_path,
            {
                "history": {"url": f"sqlite:///{history}"},
                "reports": {"directory": str(tmp_path / "reports")},
                "platforms": [{"name": "p0", "url": server.url("/ok")}],
            },
        )
        rerun = subprocess.run(
            [sys.executable, "-m", "opsbook", "run", "daily", "-c", str(fixed)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    runs = HistoryStore(f"sqlite:///{history}").latest_runs("daily-checklist")
    assert len(runs) == 1 and runs[0].verdict == "green"


@pytest.mark.usefixtures("prefect_server")
def test_a_flow_retried_by_prefect_stores_its_results_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import opsbook.flows.daily as daily

    calls = {"n": 0}
    real_final_state = daily.final_state

    def crash_first_time(outcome):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("worker lost its connection after storing")
        return real_final_state(outcome)

    monkeypatch.setattr(daily, "final_state", crash_first_time)
    with LoopbackServer({"/ok": lambda r: Reply(200, "ok")}) as server:
        config = write_config(
            tmp_path,
            {
                "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
                "reports": {"directory": str(tmp_path / "r")},
                "platforms": [{"name": "fly", "url": server.url("/ok")}, {"name": "railway", "url": server.url("/ok")}],
            },
        )
        state = daily.daily_checklist.with_options(retries=1, retry_delay_seconds=0)(
            config_path=str(config), return_state=True
        )
    assert state.is_completed() and calls["n"] == 2
    runs = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}").latest_runs("daily-checklist")
    assert len(runs) == 1
    assert sorted(r.target for r in runs[0].results if r.check == "platform.health") == ["fly", "railway"]
