"""opsbook: production-support runbooks as code (the shared core: config, results, store, demo)."""

__version__ = "0.1.0"
