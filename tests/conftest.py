"""Test setup: Prefect keeps everything in a temporary home and never calls out; real servers only."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text  # neither imports Prefect

# Before Prefect is imported anywhere: nothing may write to the real home or try the network.
_PREFECT_HOME = tempfile.mkdtemp(prefix="opsbook-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ["XDG_DATA_HOME"] = os.path.join(_PREFECT_HOME, "xdg")

from tests import check_record  # noqa: E402 - after the environment above: it imports opsbook

# The check catalogue's session record: see the end of this file.
_SESSION: dict[str, int] = {"deselected": 0, "services_missing": 0}
POSTGRES_ADMIN_URL = os.environ.get("OPSBOOK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real, temporary Prefect server for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def free_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        if os.environ.get("OPSBOOK_REQUIRE_POSTGRES"):
            raise
        _SESSION["services_missing"] = 1
        pytest.skip(
            f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__}); "
            "CI sets OPSBOOK_REQUIRE_POSTGRES=1 so this never skips there"
        )
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the real server, dropped afterwards."""
    name = f"opsbook_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The history store on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return request.getfixturevalue("postgres_url")


# -- the check catalogue's session-wide record (tests/test_check_declarations.py) -----------------

check_record.install()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `after_everything` run last, once every other test has emitted its results."""
    items.sort(key=lambda item: item.get_closest_marker("after_everything") is not None)


def pytest_deselected(items: list[pytest.Item]) -> None:
    _SESSION["deselected"] += len(items)


@pytest.fixture
def emitted_check_ids(request: pytest.FixtureRequest) -> set[str]:
    """Every check id the code emitted so far this session; skips unless the whole suite is running."""
    collected = {item.path.name for item in request.session.items}
    every_file = {path.name for path in Path(__file__).parent.glob("test_*.py")}
    missing = every_file - collected
    if missing or _SESSION["deselected"]:
        pytest.skip(f"only meaningful over the whole suite ({len(missing)} file(s) not run, some tests deselected?)")
    return set(check_record.EMITTED)


def services_missing() -> bool:
    """Whether a service the suite needs (PostgreSQL) was missing, so its tests were skipped."""
    return bool(_SESSION["services_missing"])
