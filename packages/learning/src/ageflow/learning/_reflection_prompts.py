"""The prompts of reflection's agents: the credit agent's and the drafting agent's."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import to_jsonable_python

from ageflow.learning._reflection_models import CreditRequest, DraftRequest


def _json(value: Any) -> str:
    return json.dumps(to_jsonable_python(value), indent=1, sort_keys=True)


def credit_prompt(request: CreditRequest) -> str:
    reflection = request.input
    return f"""You assign credit and blame to the tasks of one run of the workflow \
"{reflection.workflow_name}".

A task can go wrong in two ways: it handled good input badly (its own fault), or it was
handed bad input by a task upstream of it (the upstream task's fault). Trace every failure
back along the dependencies to the task where it started, and score that task low; do not
score a task low for a failure it only inherited. Feedback given on the run outweighs what
the run itself showed.

Dependencies (task: the tasks it depends on):
{_json(reflection.dependencies)}

Per task: runs, failures, the tasks downstream of it and which of those failed:
{_json(request.evidence.tasks)}

The run to judge:
{_json(reflection.trace)}

Earlier runs of the workflow (look for patterns that repeat, not one-off cases):
{_json(reflection.history)}

For every task give a score from 0 to 1, a credit weight (its share of the outcome), a
diagnosis citing the evidence, and an improvement hint: a reusable instruction that would
help the task in general, not a fix for this one input. Answer with JSON:
{{"workflow_score": <0-1>, "task_scores": {{"<task>": {{"score": <0-1>, "credit_weight": <0-1>,
"diagnosis": "...", "improvement_hint": "..."}}}}, "insight": "<optional>"}}"""


def draft_prompt(request: DraftRequest) -> str:
    reflection = request.input
    blamed = {item.task for item in request.blame.blamed}
    reached = blamed | {name for item in request.blame.blamed for name in item.downstream_failures}
    evidence = [t for t in reflection.trace.task_traces if t.task_name in reached]
    current = [s for s in reflection.skills if s.agent in blamed]
    return f"""You write skills for the agents of the workflow "{reflection.workflow_name}".
A skill is a short block of markdown put before an agent's system prompt; the agent follows
it on every run.

These agents were blamed for failures of the run, with the reason:
{_json(request.blame.blamed)}

What the blamed tasks, and the failed tasks downstream of them, did in that run:
{_json(evidence)}

The skills these agents run with now (improve on them; keep what works):
{_json(current)}

Runs held out from the diagnosis: a good skill would have helped on these as well.
{_json(reflection.held_out)}

Write one skill per blamed agent: a sentence of context, then concrete instructions, in
100 to 300 words; aim at the cause of the failure, not at this one input. Answer with JSON:
{{"skills": [{{"agent": "<task name>", "name": "<short-name>", "description": "<one line>",
"content": "<markdown>"}}]}}"""
