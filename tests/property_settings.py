"""The hypothesis settings property tests share: a deadline that catches a hang, few examples to stay quick."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings

PROPERTY = settings(
    deadline=timedelta(seconds=5),  # generous on shared CPUs; a hang or a blow-up takes far longer
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
