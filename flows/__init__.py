"""Flows: one module per runbook. Thin: they compose tasks, persist, report and alert."""
