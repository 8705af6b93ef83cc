"""The DBOS Transact peer of benchmarks/store.py, run in a process of its own.

DBOS keeps global state and background threads from ``DBOS.launch()`` until
``DBOS.destroy()``; in a child process they cannot slow the other measurements. Prints
one JSON object: the best of ``repeat`` runs (after a warm-up), in seconds, of a workflow of
``n`` sequential no-op ``@DBOS.step`` calls ("chain") and of ``n`` concurrent ones
("independent"), both async like ageflow's, on a SQLite system database.

``--wal`` first puts the file in WAL mode (a setting SQLite keeps in the file); DBOS's own
default is SQLite's rollback journal, with a sync on every commit.

Run (store.py does): hatch run bench:python benchmarks/dbos_peer.py DIR --steps 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any


async def measure(directory: Path, n: int, repeat: int, wal: bool) -> dict[str, float]:
    from dbos import DBOS

    path = directory / f"dbos-{'wal' if wal else 'default'}.sqlite"
    if wal:
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
    config: Any = {
        "name": "ageflow-bench",
        "system_database_url": f"sqlite:///{path}",
        "run_admin_server": False,
        "log_level": "WARNING",
    }
    DBOS(config=config)

    @DBOS.step()
    async def noop(i: int) -> int:
        return i

    @DBOS.workflow()
    async def chain(count: int) -> int:
        total = 0
        for i in range(count):
            total += await noop(i)
        return total

    @DBOS.workflow()
    async def independent(count: int) -> int:
        return sum(await asyncio.gather(*(noop(i) for i in range(count))))

    DBOS.launch()
    try:
        best: dict[str, float] = {}
        for name, workflow in (("chain", chain), ("independent", independent)):
            times = []
            for _ in range(repeat + 1):  # the first is the warm-up
                started = time.perf_counter()
                assert await workflow(n) == n * (n - 1) // 2
                times.append(time.perf_counter() - started)
            best[name] = min(times[1:])
        return best
    finally:
        DBOS.destroy()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wal", action="store_true")
    arguments = parser.parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    result = asyncio.run(
        measure(arguments.directory, arguments.steps, arguments.repeat, arguments.wal)
    )
    print(json.dumps(result))
