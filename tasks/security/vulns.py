"""Dependency-audit reports: pip-audit (`-f json`), npm audit (`--json`, v6 and v7+), OSV-Scanner.

Each format is read into the same findings (package, id, severity). pip-audit states no severity,
so its findings are `unknown`; OSV's CVSS scores are mapped to the usual bands.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
_ALIASES = {"moderate": "medium", "info": "low", "none": "low"}


class UnknownReport(ValueError):
    """The file is JSON, but not one of the audit formats opsbook reads."""


@dataclass(frozen=True)
class Vulnerability:
    package: str
    id: str
    severity: str


def normalise(severity: object) -> str:
    text = str(severity or "").strip().lower()
    text = _ALIASES.get(text, text)
    return text if text in SEVERITIES else "unknown"


def from_cvss(score: object) -> str:
    """CVSS v3 base score bands: 9.0 critical, 7.0 high, 4.0 medium, above 0 low."""
    try:
        value = float(str(score))
    except ValueError:
        return "unknown"
    if value >= 9:
        return "critical"
    if value >= 7:
        return "high"
    if value >= 4:
        return "medium"
    return "low" if value > 0 else "unknown"


def _pip_audit(data: Any) -> list[Vulnerability]:
    dependencies = data["dependencies"] if isinstance(data, dict) else data
    return [Vulnerability(dep["name"], vuln["id"], "unknown") for dep in dependencies for vuln in dep.get("vulns", [])]


def _npm(data: dict[str, Any]) -> list[Vulnerability]:
    if "vulnerabilities" in data and isinstance(data["vulnerabilities"], dict):  # npm 7+
        found = []
        for name, entry in data["vulnerabilities"].items():
            advisories = [v for v in entry.get("via", []) if isinstance(v, dict)]
            ident = ",".join(str(v.get("source") or v.get("url") or "") for v in advisories) or f"via:{name}"
            found.append(Vulnerability(name, ident, normalise(entry.get("severity"))))
        return found
    return [
        Vulnerability(str(a.get("module_name")), str(a.get("id", key)), normalise(a.get("severity")))
        for key, a in data.get("advisories", {}).items()
    ]


def _osv(data: dict[str, Any]) -> list[Vulnerability]:
    found = []
    for result in data.get("results", []):
        for package in result.get("packages", []):
            name = package.get("package", {}).get("name", "?")
            by_id = {v["id"]: v for v in package.get("vulnerabilities", [])}
            groups = package.get("groups") or [{"ids": [i]} for i in by_id]
            for group in groups:
                severity = from_cvss(group["max_severity"]) if group.get("max_severity") else "unknown"
                if severity == "unknown":
                    for ident in group["ids"]:
                        stated = (by_id.get(ident, {}).get("database_specific") or {}).get("severity")
                        if stated:
                            severity = normalise(stated)
                            break
                found.append(Vulnerability(name, group["ids"][0], severity))
    return found


def read_report(path: Path) -> tuple[str, list[Vulnerability]]:
    """The report's format and its findings; UnknownReport when it is none of the three."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list) or (isinstance(data, dict) and "dependencies" in data):
        return "pip-audit", _pip_audit(data)
    if isinstance(data, dict) and ("auditReportVersion" in data or "advisories" in data):
        return "npm-audit", _npm(data)
    if isinstance(data, dict) and "results" in data:
        return "osv-scanner", _osv(data)
    raise UnknownReport("not a pip-audit, npm audit or OSV-Scanner JSON report")


def count_by_severity(found: list[Vulnerability]) -> dict[str, int]:
    counts = Counter(v.severity for v in found)
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}
