"""The history store (SQLAlchemy 2 + Alembic)."""

# Every model module is imported so that Base.metadata describes the whole schema.
from opsbook.store import backup_models, incident_models, security_models  # noqa: F401 - imported to register their tables
from opsbook.store.history import HistoryStore, RunRecord, Sample, StoreError, open_store

__all__ = ["HistoryStore", "RunRecord", "Sample", "StoreError", "open_store"]
