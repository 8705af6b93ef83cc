"""The learning store the ``learn`` and ``feedback`` commands work on.

One SQLite file of ``ageflow-learning-sqlite`` holds both the skills and the traces of
runs; ``./ageflow-learning.db`` unless ``--db`` names another (the original's default).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Annotated, TypeVar

import anyio
import typer

from ageflow.cli.errors import CliError
from ageflow.learning import LearningStoreError
from ageflow.learning_sqlite import LearningDatabase

T = TypeVar("T")

DEFAULT_LEARNING_DB = str(Path("ageflow-learning.db"))
# Every version of the learning schema has these (ageflow.learning_sqlite.schema).
LEARNING_TABLES = frozenset({"meta", "skills", "traces"})

LearningDb = Annotated[
    str,
    typer.Option(
        "--db",
        metavar="PATH",
        help="The learning store: the SQLite file of skills and traces.",
    ),
]


def with_learning_db(
    path: str, action: Callable[[LearningDatabase], Awaitable[T]], *, create: bool = False
) -> T:
    """Run ``action`` on the learning store at ``path`` and close the store.

    A missing file is an error unless ``create``. A file that is not a learning store
    (another SQLite database, or not SQLite at all) or one written by a newer version is
    an error too, and is left untouched.
    """

    async def main() -> T:
        if await anyio.Path(path).exists():
            await anyio.to_thread.run_sync(refuse_foreign_file, path)
        elif not create:
            raise CliError(
                f'no learning store at "{path}" (runs with the learning hooks and '
                "`ageflow learn import` create one; pick another with --db)"
            )
        try:
            async with LearningDatabase(path) as db:
                return await action(db)
        except LearningStoreError as exc:
            raise CliError(str(exc)) from exc

    return anyio.run(main)


def refuse_foreign_file(path: str) -> None:
    """Raise CliError unless ``path`` is a learning store or an empty database.

    Opening a store migrates it, which would add the learning tables to any SQLite file:
    look first, read-only, so that a wrong ``--db`` never changes someone else's file.
    """
    if not Path(path).is_file():
        raise CliError(f'"{path}" is not a file, so it is not a learning store')
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as exc:
        raise CliError(f'"{path}" is not a learning store: {exc}') from exc
    if tables and not tables >= LEARNING_TABLES:
        raise CliError(
            f'"{path}" is an SQLite database but not a learning store '
            f"(it has no {', '.join(sorted(LEARNING_TABLES - tables))} table)"
        )
