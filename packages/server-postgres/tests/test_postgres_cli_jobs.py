"""``ageflow jobs`` on a PostgreSQL job store: the URL picks the store, ``?schema=`` its schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
from typer.testing import CliRunner

from ageflow.cli.app import app
from ageflow.server_postgres import PostgresRunStore
from ageflow.testing.postgres_server import PostgresServer
from ageflow.testing.store_contract import make_record

runner = CliRunner()


def test_jobs_list_and_prune_read_the_schema_the_url_names(postgres: PostgresServer) -> None:
    async def seed() -> None:
        async with PostgresRunStore(postgres.dsn, schema="cli_jobs") as store:
            await store.create_run(make_record("waits", state="awaiting-checkpoint"), {"n": 1})
            await store.create_run(make_record("ended", state="done"), {"n": 2})
        async with PostgresRunStore(postgres.dsn, schema="cli_other") as other:
            await other.create_run(make_record("elsewhere"), {})

    anyio.run(seed, backend="asyncio")
    url = f"{postgres.dsn}?schema=cli_jobs"
    listed = runner.invoke(app, ["jobs", "list", "--json", "--job-db", url])
    assert listed.exit_code == 0, listed.stderr
    assert {job["runId"]: job["state"] for job in json.loads(listed.stdout)} == {
        "waits": "awaiting-checkpoint",
        "ended": "done",
    }
    pruned = runner.invoke(app, ["jobs", "prune", "--job-db", url])
    assert pruned.exit_code == 0, pruned.stderr
    assert "Deleted 1 finished job(s)" in pruned.stdout
    # The password never shows, and a server that is not there is one line, exit 1.
    refused = runner.invoke(
        app, ["jobs", "list", "--job-db", "postgresql://app:s3cret@127.0.0.1:1/jobs"]
    )
    assert refused.exit_code == 1
    assert "s3cret" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_mcp_serve_refuses_a_postgres_store_it_cannot_open_in_one_line(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    workflow = Path(__file__).with_name("replica_workflow.py")
    env = {
        **os.environ,
        "REPLICA_MARKERS": str(tmp_path),
        "REPLICA_PID_FILE": str(tmp_path / "pid"),
    }
    for url, expected in (
        ("postgresql://app:s3cret@127.0.0.1:1/jobs", "cannot open the PostgreSQL run store"),
        (f"{postgres.dsn}?schema=", "invalid schema"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "ageflow.cli", "mcp", "serve", str(workflow), "--async",
             "--job-db", url],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], done.stderr
        assert "s3cret" not in done.stderr and "Traceback" not in done.stderr
