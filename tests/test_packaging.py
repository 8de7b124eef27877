"""The built wheel, installed outside any checkout, is the whole product: one import root, its data, its commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str | Path, cwd: Path, home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A command as a user outside the checkout runs it: no PYTHONPATH, no Prefect server, its own home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "PYTHONPATH", "OPSBOOK_"))}
    env.update(PREFECT_HOME=str(home / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false", XDG_DATA_HOME=str(home))
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel` of a copy of the checkout (the build leaves its build/ and egg-info in the copy)."""
    source = tmp_path_factory.mktemp("source") / "opsbook"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", "tests", "bench", "build", "*.egg-info", "__pycache__"),
    )
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = out.glob("opsbook-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding the wheel; its dependencies come from this interpreter's site-packages."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield env_dir / "bin"


def test_the_wheel_has_one_top_level_name_and_carries_what_the_commands_read(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [top_level] = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["opsbook"]
        assert {n.split("/")[0] for n in names} == {"opsbook", wheel.name.split("-py3")[0] + ".dist-info"}
        packaged_prefect_yaml = archive.read("opsbook/starter/prefect.yaml").decode()
    assert packaged_prefect_yaml == (ROOT / "prefect.yaml").read_text()
    for needed in (
        "opsbook/flows/daily.py",
        "opsbook/tasks/platforms.py",
        "opsbook/reports/templates/daily.html.j2",
        "opsbook/deployments/serve.py",
        "opsbook/starter/opsbook.example.yaml",
        "opsbook/runbook_map.yaml",
        "opsbook/store/migrations/env.py",
        "opsbook/store/migrations/versions/0001_foundation.py",
    ):
        assert needed in names, needed


def test_installed_outside_a_checkout_the_demo_runs_and_serve_answers(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run(installed / "python", "-c", "import opsbook; print(opsbook.__file__)", cwd=empty, home=tmp_path)
    assert where.returncode == 0 and str(installed.parent) in where.stdout, where.stdout + where.stderr
    generic = (
        "import importlib.util as u; print([n for n in ('flows', 'tasks', 'reports', 'deployments') if u.find_spec(n)])"
    )
    leaked = _run(installed / "python", "-c", generic, cwd=empty, home=tmp_path)
    assert leaked.stdout.strip() == "[]", leaked.stdout + leaked.stderr  # no generic top-level import names

    served = _run(installed / "opsbook", "serve", "--help", cwd=empty, home=tmp_path)
    assert served.returncode == 0, served.stdout + served.stderr
    assert "prefect.yaml" in served.stdout

    demo = _run(installed / "opsbook", "demo", "--workdir", tmp_path / "demo", cwd=empty, home=tmp_path)
    assert demo.returncode == 1, demo.stdout + demo.stderr
    report = re.search(r"^report: (.+\.html)$", demo.stdout, re.MULTILINE)
    assert report, demo.stdout + demo.stderr
    assert "RED: Action required" in Path(report.group(1)).read_text()
    assert list(empty.iterdir()) == []  # nothing written where the user stood


def test_init_writes_a_starter_config_and_prefect_yaml_whose_entrypoints_load(installed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ops"
    first = _run(installed / "opsbook", "init", folder, cwd=tmp_path, home=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (folder / "opsbook.yaml").read_text() == (ROOT / "opsbook.example.yaml").read_text()
    deployments = yaml.safe_load((folder / "prefect.yaml").read_text())["deployments"]

    (folder / "opsbook.yaml").write_text("estate: mine\n")
    again = _run(installed / "opsbook", "init", folder, cwd=tmp_path, home=tmp_path)
    assert again.returncode == 0 and "kept" in again.stdout
    assert (folder / "opsbook.yaml").read_text() == "estate: mine\n"  # never replaced without --force

    # Every entrypoint loads from the installed package, the way a worker started in that folder loads it.
    entrypoints = sorted({d["entrypoint"] for d in deployments})
    probe = (
        "from prefect.flows import load_flow_from_entrypoint as load\nimport sys\n"
        "for e in sys.argv[1:]: print(e, load(e, use_placeholder_flow=False).name)"
    )
    loaded = _run(installed / "python", "-c", probe, *entrypoints, cwd=folder, home=tmp_path)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert len(loaded.stdout.splitlines()) == len(entrypoints)
    assert "opsbook.flows.daily:daily_checklist daily-checklist" in loaded.stdout
