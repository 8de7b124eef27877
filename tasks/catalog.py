"""The whole catalogue of checks: import every task module so each declaration is registered."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import opsbook.tasks
from opsbook.checks import Check, registered


@cache
def all_checks() -> tuple[Check, ...]:
    """Every check declared by any task module, by id."""
    for module in pkgutil.walk_packages(opsbook.tasks.__path__, "opsbook.tasks."):
        importlib.import_module(module.name)
    return tuple(registered())
