"""ageflow-learning-sqlite: the ageflow-learning stores in one SQLite file."""

from __future__ import annotations

from ageflow.learning_sqlite.database import LearningDatabase
from ageflow.learning_sqlite.schema import SCHEMA_VERSION, SchemaVersionError
from ageflow.learning_sqlite.skills import SqliteSkillStore
from ageflow.learning_sqlite.traces import SqliteTraceStore

__all__ = [
    "SCHEMA_VERSION",
    "LearningDatabase",
    "SchemaVersionError",
    "SqliteSkillStore",
    "SqliteTraceStore",
]
