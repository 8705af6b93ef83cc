"""The SQL the SQLite run store runs, in one place (tests EXPLAIN the same text).

Every query that looks at runs goes through an index: by id (the unique index on
``run_id``), by state, by workflow and state, or by last event. None reads every run.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ageflow.server.records import UNFINISHED_STATES

# Unfinished states as SQL literals: constant, so the planner sees them as an IN list.
_UNFINISHED = ", ".join(f"'{state}'" for state in sorted(UNFINISHED_STATES))

RUN_COLUMNS = "payload, owner, lease_until"

# One statement for a run and its input (the view's trigger writes both rows, atomically);
# a run id already taken fails the whole statement with a UNIQUE constraint error.
CREATE_RUN = """
    INSERT INTO run_creations (run_id, workflow_name, state, created_at, last_event_at,
                               owner, lease_until, payload, input)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

SELECT_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?"
SELECT_INPUT = "SELECT input FROM run_inputs WHERE run_id = ?"

SAVE_RUN = "UPDATE runs SET state = ?, last_event_at = ?, payload = ? WHERE run_id = ?"
SAVE_OWNED_RUN = SAVE_RUN + " AND owner = ?"
# A record and steps (a JSON array of step texts) in one statement; the view's trigger
# refuses it all when the run is unknown or (expected_owner not NULL) held by another owner.
SAVE_RUN_WITH_STEPS = """
    INSERT INTO run_saves (run_id, state, last_event_at, payload, expected_owner, steps)
    VALUES (?, ?, ?, ?, ?, ?)
"""

DELETE_RUN = "DELETE FROM runs WHERE run_id = ?"
DELETE_FINISHED_BEFORE = f"""
    DELETE FROM runs
    WHERE last_event_at < ? AND state NOT IN ({_UNFINISHED})
    RETURNING seq, run_id
"""

# A step of an unknown run inserts nothing (rowcount 0) instead of failing the batch.
# A replaced step keeps its seq, so the journal keeps first-completion order.
UPSERT_STEP = """
    INSERT INTO steps (run_id, step_key, payload)
    SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = ?1)
    ON CONFLICT (run_id, step_key) DO UPDATE SET payload = excluded.payload
"""
SELECT_STEPS = "SELECT payload FROM steps WHERE run_id = ? ORDER BY seq"
SELECT_KNOWN_RUN_IDS = "SELECT run_id FROM runs WHERE run_id IN (SELECT value FROM json_each(?))"

# Ownership. A NULL lease on an owned run counts as lapsed (as 0), like the in-memory store.
# ``+owner`` keeps the planner on the run-id lookups: an owner may hold many more runs
# than the few named.
CLAIM_RUN = """
    UPDATE runs SET owner = ?1, lease_until = ?2
    WHERE run_id = ?3 AND (owner IS NULL OR owner = ?1 OR COALESCE(lease_until, 0) < ?4)
"""
RENEW_LEASES = """
    UPDATE runs SET lease_until = ?
    WHERE +owner = ? AND run_id IN (SELECT value FROM json_each(?))
    RETURNING run_id
"""
RELEASE_RUNS = """
    UPDATE runs SET owner = NULL, lease_until = NULL
    WHERE +owner = ? AND run_id IN (SELECT value FROM json_each(?))
"""


def _placeholders(values: Collection[Any]) -> str:
    return ", ".join("?" for _ in values)


def list_runs_query(
    workflow_names: Collection[str] | None,
    states: Collection[str] | None,
    limit: int | None,
) -> tuple[str, list[Any]]:
    """SQL and parameters of a filtered listing, newest last event first.

    Empty filter collections are the caller's to short-cut (they match nothing).
    """
    where: list[str] = []
    params: list[Any] = []
    if workflow_names is not None:
        where.append(f"workflow_name IN ({_placeholders(workflow_names)})")
        params.extend(workflow_names)
    if states is not None:
        where.append(f"state IN ({_placeholders(states)})")
        params.extend(states)
    sql = f"SELECT {RUN_COLUMNS} FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY last_event_at DESC, seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def list_claimable_query(workflow_names: Collection[str], now: int) -> tuple[str, list[Any]]:
    """SQL and parameters of the unfinished runs of these workflows with no live lease."""
    sql = (
        f"SELECT {RUN_COLUMNS} FROM runs"
        f" WHERE workflow_name IN ({_placeholders(workflow_names)})"
        f" AND state IN ({_UNFINISHED})"
        " AND (owner IS NULL OR COALESCE(lease_until, 0) < ?)"
        " ORDER BY seq"
    )
    return sql, [*workflow_names, now]
