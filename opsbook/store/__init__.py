"""The history store (SQLAlchemy 2 + Alembic)."""

from opsbook.store import security_models  # noqa: F401  (complete metadata)
from opsbook.store.history import HistoryStore, RunRecord, Sample, StoreError, open_store

__all__ = ["HistoryStore", "RunRecord", "Sample", "StoreError", "open_store"]
from opsbook.store import incident_models as _incident_models  # noqa: F401,E402  (alerts, incidents)
