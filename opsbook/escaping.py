"""Text from targets made inert for each place it is shown outside the HTML reports.

A target's body, a log line or a billing export's service name is data, never formatting: in a
Prefect markdown artifact it must not create elements or links, in Slack it must not ping
`@channel` or disguise a link, on a terminal it must not clear the screen or retitle the window.
Each output has its own rules, so each gets one function here; the callers redact secrets first
(an escaped secret would no longer match its registered form).
"""

from __future__ import annotations

import re
from typing import Any

# Markdown punctuation that formats wherever it appears (CommonMark lets any ASCII punctuation be
# backslash-escaped; these are the ones that can start emphasis, code, links, images, tables,
# headings or strikethrough). `&`, `<` and `>` become entities instead: raw HTML is recognised
# before backslash escapes, and the Prefect UI decodes exactly these entities back to text.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+!|~])")
# Only at the start of a line: a list item (`-`, `1.`, `1)`) or a setext heading/rule (`=`, `-`).
_MARKDOWN_LINE_START = re.compile(r"^([-=]|\d+(?=\.))")
_HTML_SPECIALS = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")

# C0 controls but tab and newline, DEL and C1 controls: ESC starts CSI/OSC sequences, and an
# 8-bit CSI (0x9b) or OSC (0x9d) does the same on terminals that honour C1.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def markdown_text(value: Any) -> str:
    """`value` as literal inline markdown: one line, no HTML, no emphasis, links, code or table cells."""
    text = _LINE_BREAKS.sub(" ", str(value)).strip().translate(_HTML_SPECIALS)
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return _MARKDOWN_LINE_START.sub(lambda m: "\\" + m.group() if m.group() in "-=" else m.group() + "\\", text)


def markdown_code(value: Any) -> str:
    """`value` as one inline code span, fenced by more backticks than it holds (CommonMark's rule).

    Code spans show their content literally (no entities, no escapes), so nothing else is needed.
    """
    text = _LINE_BREAKS.sub(" ", str(value))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_cells(row: dict[str, Any]) -> dict[str, Any]:
    """A table artifact's row: the Prefect UI renders every string cell as markdown, other cells as text."""
    return {key: markdown_text(value) if isinstance(value, str) else value for key, value in row.items()}


def slack_text(value: Any) -> str:
    """`value` for a Slack message: `&`, `<` and `>` escaped, as Slack's formatting rules ask.

    Then `<!channel>`, `<@U123>` and `<http://evil|click>` arrive as the text they are; the
    message's own links and mentions (written by opsbook or a template) are left alone.
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def terminal_text(value: Any) -> str:
    """`value` safe to print: each control character but newline and tab shown as `\\xNN`.

    The escape sequence stays readable (`\\x1b[2J`) and no longer does anything.
    """
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
