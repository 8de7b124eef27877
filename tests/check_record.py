"""Which check ids the code itself produced during a test session, for the catalogue's last test.

Every `CheckResult` built or re-identified (`model_copy`) by code under opsbook/, tasks/ or
flows/ is noted; results a test writes by hand are not, so a declaration counts as emitted only
when a task really emits it. Installed once, by tests/conftest.py, before any test runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from opsbook.results import CheckResult

ROOT = Path(__file__).resolve().parents[1]
_CODE = tuple(f"{ROOT / folder}/" for folder in ("opsbook", "tasks", "flows"))
# Where results are merely assembled: the caller of these is the one that emits.
_CONSTRUCTORS = {str(ROOT / "opsbook" / "results.py"), str(ROOT / "opsbook" / "checks.py")}

EMITTED: set[str] = set()


def _emitted_by_code() -> bool:
    """Whether the first caller outside pydantic and the result constructors is project code."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name not in _CONSTRUCTORS and "/pydantic/" not in name:
            return name.startswith(_CODE) and not name.startswith(f"{ROOT / 'tests'}/")
        frame = frame.f_back
    return False


def install() -> None:
    """Wrap CheckResult's constructor and model_copy so that each result the code makes is noted."""
    if getattr(CheckResult, "_recorded", False):
        return
    original_init, original_copy = CheckResult.__init__, CheckResult.model_copy

    def __init__(self: CheckResult, /, **data: Any) -> None:
        original_init(self, **data)
        if _emitted_by_code():
            EMITTED.add(self.check)

    def model_copy(self: CheckResult, *, update: dict[str, Any] | None = None, deep: bool = False) -> CheckResult:
        copy = original_copy(self, update=update, deep=deep)
        if update and "check" in update and _emitted_by_code():
            EMITTED.add(copy.check)
        return copy

    CheckResult.__init__ = __init__
    CheckResult.model_copy = model_copy
    CheckResult._recorded = True
