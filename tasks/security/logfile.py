"""What every log parser shares: read every line, and account for each one.

A parser never drops a line silently: each is either parsed or counted (with a sample) as
unparsed, so `parsed + unparsed == total` always holds and a report can say how much it read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

UNPARSED_SAMPLES = 5


@dataclass
class ParsedLog:
    """The events of one file, and the account of its lines."""

    path: str
    events: pd.DataFrame
    total_lines: int = 0
    parsed_lines: int = 0
    unparsed_lines: int = 0
    unparsed_samples: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, number: int, line: str) -> None:
        self.unparsed_lines += 1
        if len(self.unparsed_samples) < UNPARSED_SAMPLES:
            self.unparsed_samples.append((number, line[:200]))

    @property
    def accounted(self) -> bool:
        return self.parsed_lines + self.unparsed_lines == self.total_lines

    def account(self) -> dict[str, object]:
        """The line account, for a result's details."""
        return {
            "file": self.path,
            "total_lines": self.total_lines,
            "parsed_lines": self.parsed_lines,
            "unparsed_lines": self.unparsed_lines,
            "unparsed_samples": [f"line {n}: {text}" for n, text in self.unparsed_samples],
        }


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Lines with their 1-based numbers; a last line without a newline still counts; bad bytes are replaced."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip("\r\n")
