"""A server whose workflow makes every kind of logged event (not a test module).

Usage: python mcp_logging_child.py stdio|http [LOG_LEVEL]

``chatty`` drafts with a scripted agent whose first answer is not JSON (a failed attempt,
then a retry) and whose second costs far beyond the workflow's warn-only budget (a
budget warning); ``publish`` waits at a checkpoint that the server approves
(``hitl="auto"``). ``broken`` fails for good. HTTP listens on 127.0.0.1 at an
OS-assigned port named in the banner on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
from pydantic import BaseModel

from ageflow.core import (
    BudgetConfig,
    Checkpoint,
    RetryConfig,
    define_agent,
    define_function,
    define_workflow,
    task,
)
from ageflow.core.registry import RunnerRegistry
from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server import McpServer, create_mcp_server
from ageflow.mcp_server.logging_bridge import parse_log_level
from ageflow.testing.scripted_runner import ScriptedRunner


class Topic(BaseModel):
    topic: str


class Draft(BaseModel):
    text: str


def chatty_workflow() -> WorkflowDef:
    draft = define_agent(
        runner="scripted",
        input=Topic,
        output=Draft,
        prompt=lambda t: f"draft: {t.topic}",
        retry=RetryConfig(max=2),
    )
    publish = define_function(lambda d: Draft(text=d.text.upper()), input=Draft, output=Draft)
    return define_workflow(
        name="chatty",
        tasks={
            "draft": task(draft),
            "publish": task(
                publish,
                depends_on=["draft"],
                input=lambda ctx: ctx["draft"].output,
                hitl=Checkpoint("Publish it?"),
            ),
        },
        budget=BudgetConfig(max_cost=0.01, on_exceed="warn"),
        # No cost ceiling over it: a ceiling would turn the warn-only budget into a halt.
        mcp={"max_cost_usd": None},
    )


def broken_workflow() -> WorkflowDef:
    def fail(topic: Topic) -> Draft:
        raise RuntimeError(f"cannot write about {topic.topic}")

    return define_workflow(
        name="broken", tasks={"write": task(define_function(fail, input=Topic, output=Draft))}
    )


def scripted_registry() -> RunnerRegistry:
    calls: dict[str, int] = {}

    def respond(args: RunnerSpawnArgs) -> str | RunnerSpawnResult:
        topic = args.prompt.removeprefix("draft: ")
        calls[topic] = calls.get(topic, 0) + 1
        if calls[topic] == 1:
            return "not json at all"
        return RunnerSpawnResult(
            stdout=f'{{"text": "about {topic}"}}', tokens_in=10_000, tokens_out=0
        )

    return RunnerRegistry({"scripted": ScriptedRunner(respond)})


def logging_server(log_level: str = "info", **options: Any) -> McpServer:
    return create_mcp_server(
        [chatty_workflow(), broken_workflow()],
        name="logging-child",
        hitl="auto",
        registry=scripted_registry(),
        log_level=parse_log_level(log_level),
        **options,
    )


async def main(transport: str, log_level: str) -> None:
    server = logging_server(log_level)
    if transport == "stdio":
        from ageflow.mcp_server.stdio import serve_stdio

        await serve_stdio(server)
    else:
        from ageflow.mcp_server.http import HttpOptions, serve_http

        await serve_http(server, HttpOptions(port=0))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "info")
