"""Prefect artifacts for a checklist run: markdown summary, results table, link to the HTML report."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from opsbook.escaping import markdown_cells, markdown_code, markdown_text
from opsbook.reports import Report
from opsbook.secrets import redact


def _text(value: object) -> str:
    return markdown_text(redact(str(value)))  # redacted first: the escaped form would hide a secret


def _code(value: object) -> str:
    return markdown_code(redact(str(value)))


def summary_markdown(report: Report, report_path: Path | None) -> str:
    """The run's summary as markdown; every value from the estate or its targets is escaped."""
    lines = [
        f"# {_text(report.title)}: {report.verdict.value.upper()} ({report.verdict.words})",
        "",
        f"**{_text(report.headline)}.** Estate {_code(report.estate)}, run `{report.run_id[:8]}`.",
        "",
        " · ".join(f"{n} {s}" for s, n in report.counts.items() if n),
    ]
    items = report.needs_attention
    if items:
        lines += ["", "## Needs attention", ""]
        lines += [
            f"- **{i.result.status.value}** {_code(i.result.target)} ({_text(i.result.check)}): "
            f"{_text(i.result.message)}"
            for i in items
        ]
    if report.notes:
        lines += ["", "## About this run", ""] + [f"- {_text(note)}" for note in report.notes]
    lines += ["", f"Report: {_code(report_path)}" if report_path else "Report: not written (see above)."]
    return redact("\n".join(lines))


def results_table(report: Report) -> list[dict[str, object]]:
    """One row per result; string cells escaped, as the UI renders them as markdown."""
    return [
        markdown_cells(
            redact(
                {
                    "check": r.check,
                    "target": r.target,
                    "status": r.status.value,
                    "value": r.value,
                    "unit": r.unit or "",
                    "threshold": r.threshold,
                    "message": r.message,
                    "attempts": r.attempts,
                }
            )
        )
        for r in report.results
    ]


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts(report: Report, report_path: Path | None, key: str) -> None:
    """Artifacts under stable keys (`<key>`, `<key>-results`, `<key>-link`) so the UI keeps history."""
    create_markdown_artifact(
        key=key, markdown=summary_markdown(report, report_path), description=f"{report.title}: {report.verdict.words}"
    )
    create_table_artifact(
        key=f"{key}-results", table=results_table(report), description=f"{report.title}: every result"
    )
    if report_path is not None:
        create_link_artifact(
            key=f"{key}-link", link=report_path.resolve().as_uri(), link_text=f"{report.title} ({report.verdict.words})"
        )
