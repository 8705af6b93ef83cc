"""The main job: a durable MCP job survives two crashes of its server.

Serves the offline example (examples/offline/workflow.py) with
``ageflow mcp serve --async`` as a real server process and drives it with the MCP SDK's
client over stdio:

1. start a job and watch its progress;
2. SIGKILL the server while the job is inside a task, start a new server on the same
   job file: the job continues from its journal;
3. SIGKILL that server while the job waits for approval, start a third: the job still
   waits, and approving it finishes the job;
4. print the result.

No LLM, no API key, no network. Run it with ``hatch run demo`` (or
``python examples/mcp_demo.py`` where ageflow-cli is installed).
"""

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

EXAMPLE = Path(__file__).parent / "offline" / "workflow.py"
POLL_S = 0.05
STEP_TIMEOUT_S = 60.0
NOTE = {
    "title": "Scheduler 2.0",
    "max_words": 20,
    "delay_seconds": 3,
    "text": (
        "We really just rewrote the scheduler, so runs start faster. Basically every task "
        "now starts as soon as its own dependencies finish. Loops emit events for each "
        "iteration."
    ),
}


def say(who: str, text: str) -> None:
    print(f"[{who}]".ljust(11) + text, flush=True)


def ageflow_command() -> list[str]:
    """The installed ``ageflow`` script, else this interpreter running the package."""
    script = shutil.which("ageflow")
    return [script] if script else [sys.executable, "-m", "ageflow.cli"]


class Server:
    """One ``ageflow mcp serve --async`` process and a connected SDK client."""

    def __init__(self, number: int, client: Client, pid_file: Path) -> None:
        self.number = number
        self.client = client
        self.pid = int(pid_file.read_text())

    @property
    def name(self) -> str:
        return f"server {self.number}"

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments)
        content = result.structured_content or {}
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {json.dumps(content)}")
        return content

    async def status(self, job_id: str) -> dict[str, Any]:
        return await self.call("get_workflow_status", {"jobId": job_id})

    async def wait_for_status(
        self, job_id: str, wanted: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        with anyio.fail_after(STEP_TIMEOUT_S):
            while True:
                status = await self.status(job_id)
                if wanted(status):
                    return status
                await anyio.sleep(POLL_S)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        say("demo", f"SIGKILL {self.name} (pid {self.pid})")


@asynccontextmanager
async def serve(number: int, job_db: Path, workdir: Path) -> AsyncIterator[Server]:
    pid_file = workdir / f"server-{number}.pid"
    serve_args = ["mcp", "serve", str(EXAMPLE), "--async", "--job-db", str(job_db)]
    # `exec` keeps the shell's pid, so the pid file names the server process itself.
    params = StdioServerParameters(
        command="/bin/sh",
        args=["-c", 'echo $$ > "$0"; exec "$@"', str(pid_file), *ageflow_command(), *serve_args],
        env=dict(os.environ),
        cwd=str(workdir),
    )
    client = Client(params, mode="legacy", read_timeout_seconds=STEP_TIMEOUT_S)
    try:
        async with client:
            server = Server(number, client, pid_file)
            tools = [tool.name for tool in (await client.list_tools()).tools]
            say(server.name, f"ageflow mcp serve --async (pid {server.pid})")
            say(server.name, "tools: " + ", ".join(tools))
            yield server
    except Exception:
        # A killed server ends its client with a broken pipe; that is the point here.
        if pid_alive(int(pid_file.read_text())):
            raise


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def describe(status: dict[str, Any]) -> str:
    text = str(status["state"])
    current = status.get("currentTask")
    if current:
        if current.get("kind") == "checkpoint":
            text += f' · asks "{current.get("message")}"'
        else:
            text += f" · task {current['name']}"
    progress = status.get("progress")
    if progress:
        text += f" · {progress['tasksCompleted']}/{progress['tasksTotal']} tasks done"
    return text


def in_task(name: str) -> Callable[[dict[str, Any]], bool]:
    def check(status: dict[str, Any]) -> bool:
        current = status.get("currentTask") or {}
        return status["state"] == "running" and current.get("name") == name

    return check


def awaiting(status: dict[str, Any]) -> bool:
    return bool(status["state"] == "awaiting-checkpoint")


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ageflow-demo-") as tmp:
        workdir = Path(tmp)
        job_db = workdir / "jobs.sqlite"
        say("demo", f"job file {job_db}")

        async with serve(1, job_db, workdir) as server:
            job_id = (await server.call("start_release_note", NOTE))["jobId"]
            say("client", f"start_release_note -> job {job_id}")
            status = await server.wait_for_status(job_id, in_task("render"))
            say("client", "status: " + describe(status))
            server.kill()

        async with serve(2, job_db, workdir) as server:
            status = await server.status(job_id)
            say("client", "status: " + describe(status) + " (recovered from the journal)")
            status = await server.wait_for_status(job_id, awaiting)
            say("client", "status: " + describe(status))
            server.kill()

        async with serve(3, job_db, workdir) as server:
            status = await server.status(job_id)
            say("client", "status: " + describe(status) + " (the pause survived the restart)")
            if not awaiting(status):
                raise RuntimeError("the job should still wait for approval")
            answer = await server.call("resume_workflow", {"jobId": job_id, "approved": True})
            say("client", f"resume_workflow approved=true -> {json.dumps(answer)}")
            status = await server.wait_for_status(job_id, lambda s: s["state"] == "done")
            say("client", "status: " + describe(status))
            result = await server.call("get_workflow_result", {"jobId": job_id})
            say("client", "get_workflow_result:")
            print(json.dumps(result["output"], indent=2), flush=True)
    say("demo", "done: one job, two crashes, nothing lost")


if __name__ == "__main__":
    anyio.run(main)
