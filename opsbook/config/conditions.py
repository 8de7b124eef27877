"""A Gatus-style condition in the config, with how bad it is when it does not hold.

Shared by platforms and metrics endpoints: one grammar (`opsbook.conditions`), parsed when the
config loads so that a bad condition is an error naming its key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from opsbook.conditions import Condition, ConditionError, parse_condition
from opsbook.config.thresholds import Section


class ConditionSpec(Section):
    """A condition and how bad it is when it does not hold. A plain string means severity fail."""

    condition: str
    severity: Literal["warn", "fail"] = "fail"

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: object) -> object:
        return {"condition": data} if isinstance(data, str) else data

    @field_validator("condition")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            parse_condition(value)
        except ConditionError as error:
            raise ValueError(str(error)) from None
        return value

    @property
    def parsed(self) -> Condition:
        return parse_condition(self.condition)
