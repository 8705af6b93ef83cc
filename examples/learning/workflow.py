"""Answer a customer about an order: two agents and a check, with an offline stand-in LLM.

    lookup -> reply -> check (a function: the reply must quote the order id)

``lookup`` gathers the facts of the order, ``reply`` writes the answer from them, and
``check`` fails the run when the reply does not quote the order id. The agents use the
runner ``house-llm``: here ``HouseLLM``, a rule-based stand-in for a model, so that the
example runs offline and gives the same answer every time. Like a real model it follows
what its system prompt says: ``lookup`` leaves the order id out of its facts unless a skill
in its system prompt tells it to keep it. It also answers the reflection's two agents
(credit and draft) from what their prompts show, as a model would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ageflow.core import (
    AgentDef,
    RetryConfig,
    RunnerRegistry,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    ValidateResult,
    define_agent,
    define_function,
    define_workflow,
    task,
)

KEEP_ID_SKILL = (
    "When you gather the facts of an order, always keep its order id (the form "
    "`#` and digits) in the facts, exactly as the customer wrote it: the reply quotes it."
)


class Question(BaseModel):
    text: str


class Facts(BaseModel):
    order_id: str | None
    status: str


class Reply(BaseModel):
    text: str


def _check(reply: Reply) -> Reply:
    if not re.search(r"#\d+", reply.text):
        raise ValueError("the reply does not quote the order id")
    return reply


def _agent(
    input: type[BaseModel], output: type[BaseModel], prompt: Callable[[Any], str]
) -> AgentDef[Any, Any]:
    return define_agent(
        runner="house-llm", input=input, output=output, prompt=prompt, retry=RetryConfig(max=1)
    )


workflow = define_workflow(
    name="order_answer",
    tasks={
        "lookup": task(_agent(Question, Facts, lambda q: f"Gather the order facts in: {q.text}")),
        "reply": task(
            _agent(Facts, Reply, lambda f: f"Reply to the customer. Facts: {f.model_dump_json()}"),
            depends_on=["lookup"],
            input=lambda ctx: ctx["lookup"].output,
        ),
        "check": task(
            define_function(_check, input=Reply, output=Reply),
            depends_on=["reply"],
            input=lambda ctx: ctx["reply"].output,
        ),
    },
)


class HouseLLM:
    """A stand-in for a model, with fixed rules per task (see the module docstring)."""

    def __init__(self) -> None:
        self.calls: list[RunnerSpawnArgs] = []

    async def validate(self) -> ValidateResult:
        return ValidateResult(ok=True, version="house-llm")

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        self.calls.append(args)
        answer = getattr(self, f"_{args.task_name}")(args)
        return RunnerSpawnResult(stdout=json.dumps(answer), tokens_in=40, tokens_out=20)

    def _lookup(self, args: RunnerSpawnArgs) -> dict[str, object]:
        found = re.search(r"#\d+", args.prompt)
        keeps_id = "keep its order id" in (args.system_prompt or "")
        return {"order_id": found.group(0) if found and keeps_id else None, "status": "shipped"}

    def _reply(self, args: RunnerSpawnArgs) -> dict[str, object]:
        facts = json.loads(args.prompt.split("Facts: ", 1)[1])
        order = f"Order {facts['order_id']}" if facts["order_id"] else "Your order"
        return {"text": f"{order} has {facts['status']}."}

    def _credit(self, args: RunnerSpawnArgs) -> dict[str, object]:
        # It reads the run: a reply without the id came from facts without it.
        lost_id = '"order_id": null' in args.prompt
        return {
            "workflow_score": 0.3 if lost_id else 0.9,
            "task_scores": {
                "lookup": {
                    "score": 0.2 if lost_id else 0.9,
                    "diagnosis": "the facts lost the order id, so the reply could not quote it"
                    if lost_id
                    else "fine",
                },
                "reply": {"score": 0.9, "diagnosis": "quoted every fact it was given"},
            },
        }

    def _draft(self, args: RunnerSpawnArgs) -> dict[str, object]:
        return {
            "skills": [
                {
                    "agent": "lookup",
                    "name": "keep-order-id",
                    "description": "Keep the order id in the facts",
                    "content": KEEP_ID_SKILL,
                }
            ]
        }


def house_registry() -> tuple[RunnerRegistry, HouseLLM]:
    llm = HouseLLM()
    return RunnerRegistry({"house-llm": llm}), llm
