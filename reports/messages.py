"""Messages for people: the runbook's communication templates, rendered as text and HTML.

Templates are `msg_<name>.txt.j2` and `msg_<name>.html.j2`; a user's `notifications.templates_dir`
holding a file of the same name overrides ours. Every value is redacted as it is rendered. The text
template is rendered a second time for Slack with every value escaped by Slack's rules, so what a
target says cannot mention `@channel` or disguise a link, while the template's own markup works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

from opsbook.escaping import slack_text
from opsbook.secrets import redact


@dataclass(frozen=True)
class Message:
    """One message, ready for any channel: subject, text, HTML and a JSON-able payload."""

    kind: str  # firing | resolved | incident | update | resolution | escalation | test
    subject: str
    text: str
    html: str
    payload: dict[str, Any] = field(default_factory=dict)
    also_to: tuple[str, ...] = ()  # email recipients beyond each channel's own: the escalation level's contacts
    slack: str = ""  # the text with its values escaped for Slack; empty: none of it is Slack markup

    @property
    def for_slack(self) -> str:
        """What a Slack channel is sent: the Slack rendering, or the whole text escaped."""
        return self.slack or slack_text(self.text)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def _for_slack(value: Any) -> Any:
    return slack_text(redact(value if isinstance(value, str) else str(value)))


@cache
def _environment(templates_dir: Path | None, html: bool, slack: bool = False) -> Environment:
    loaders: list[Any] = [FileSystemLoader(str(templates_dir))] if templates_dir else []
    loaders.append(PackageLoader("opsbook.reports", "templates"))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=html,
        undefined=StrictUndefined,
        finalize=_for_slack if slack else _redacted,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render_message(
    name: str,
    kind: str,
    context: dict[str, Any],
    templates_dir: Path | None = None,
    payload: dict[str, Any] | None = None,
) -> Message:
    """Render `msg_<name>` as text (its first line is the subject) and as HTML."""
    text = _environment(templates_dir, False).get_template(f"msg_{name}.txt.j2").render(**context).strip() + "\n"
    slack = _environment(templates_dir, False, True).get_template(f"msg_{name}.txt.j2").render(**context).strip()
    subject = redact(text.splitlines()[0].strip())
    html = _environment(templates_dir, True).get_template(f"msg_{name}.html.j2").render(subject=subject, **context)
    return Message(
        kind=kind,
        subject=subject,
        text=redact(text),
        html=redact(html),
        payload=redact({"kind": kind, "subject": subject, "text": text, **(payload or {})}),
        slack=redact(slack) + "\n",
    )


def duration_words(seconds: float) -> str:
    """`1 h 5 min`, `12 min`, `40 s`: how long, for people."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{secs} s"
