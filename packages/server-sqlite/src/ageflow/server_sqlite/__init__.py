"""ageflow.server_sqlite: a durable RunStore for the ageflow server runner, on SQLite."""

from ageflow.server_sqlite.schema import INDEXES, MIGRATIONS, latest_version
from ageflow.server_sqlite.store import SqliteRunStore

__all__ = ["INDEXES", "MIGRATIONS", "SqliteRunStore", "latest_version"]
