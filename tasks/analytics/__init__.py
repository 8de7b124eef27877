"""Trend analytics over the history: capacity, performance review, SLOs, KPIs and alert noise.

Each analysis takes a pandas frame already aggregated in SQL (`series.bucketed_series`), checks it
with a Great Expectations gate (`series.check_series`), and answers "insufficient data" with the
gate's findings rather than print a wrong number.
"""
