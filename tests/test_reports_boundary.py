"""Reports render what they are handed: no module under reports/ imports the history store or SQLAlchemy.

The reads that feed them (trend points, the status page's data) live in `opsbook.tasks.report_data`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import opsbook.reports

FORBIDDEN = ("opsbook.store", "sqlalchemy")
REPORTS = Path(opsbook.reports.__file__).parent


def imported_modules(source: str) -> set[str]:
    """Every module an import statement names, `from a import b` counted as both `a` and `a.b`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden_imports(source: str) -> list[str]:
    return sorted(
        name for name in imported_modules(source) if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)
    )


def report_modules() -> list[Path]:
    return sorted(REPORTS.rglob("*.py"))


def test_the_reports_package_is_found() -> None:
    assert {"status_page.py", "trends.py", "model.py"} <= {path.name for path in report_modules()}


@pytest.mark.parametrize("path", report_modules(), ids=lambda path: path.relative_to(REPORTS).as_posix())
def test_no_report_module_imports_the_store(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from opsbook.store import HistoryStore",
        "from opsbook import store",
        "import opsbook.store.history",
        "from sqlalchemy import select",
        "import sqlalchemy as sa",
        "def f():\n    from opsbook.store import open_store\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from opsbook.store import RunRecord\n",
    ],
)
def test_the_check_sees_every_form_of_import(source: str) -> None:
    assert forbidden_imports(source)


def test_the_check_lets_other_imports_through() -> None:
    assert forbidden_imports("from opsbook.results import CheckResult\nimport opsbook.storage_words\n") == []
