"""PostgreSQL: the daily health checks and the weekly maintenance actions."""
