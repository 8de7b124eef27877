"""The history store (SQLAlchemy 2 + Alembic)."""

from opsbook.store.history import HistoryStore, RunRecord, Sample, StoreError, open_store

__all__ = ["HistoryStore", "RunRecord", "Sample", "StoreError", "open_store"]
from opsbook.store import backup_models  # noqa: E402,F401  (complete metadata: backup verifications)
