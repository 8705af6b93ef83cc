"""ageflow.server_postgres: a durable RunStore for the ageflow server runner, on PostgreSQL,
that several servers can share."""

from ageflow.server_postgres.schema import MIGRATIONS, latest_version
from ageflow.server_postgres.store import PostgresRunStore

__all__ = ["MIGRATIONS", "PostgresRunStore", "latest_version"]
