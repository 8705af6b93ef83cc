"""Pull action items out of meeting notes with any OpenAI-compatible chat API.

    extract (agent, api)

The runner talks HTTP to ``POST {base_url}/chat/completions`` (OpenAI, Azure OpenAI,
OpenRouter, vLLM, Ollama, LM Studio...). It is configured from the environment when this
module is imported:

- ``AGEFLOW_API_BASE_URL``: the endpoint root (default ``https://api.openai.com/v1``);
- ``AGEFLOW_API_MODEL``: the model (default ``gpt-4o-mini``);
- ``OPENAI_API_KEY``: sent as the bearer token (local servers accept any value).

The answer is validated against ``ActionItems``; an invalid answer, a rate limit, a 5xx or
an unreachable server is retried.
"""

import os

from pydantic import BaseModel, Field

from ageflow.core import RetryConfig, define_agent, define_workflow, task
from ageflow.core.registry import register_runner
from ageflow.runners.api import ApiRunner

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"

runner = ApiRunner(
    base_url=os.environ.get("AGEFLOW_API_BASE_URL") or DEFAULT_BASE_URL,
    api_key=os.environ.get("OPENAI_API_KEY", ""),
    model=os.environ.get("AGEFLOW_API_MODEL") or DEFAULT_MODEL,
    timeout_s=120,
)
register_runner("api", runner)


class MeetingNotes(BaseModel):
    notes: str = Field(min_length=1, max_length=50_000, description="Raw meeting notes")


class ActionItem(BaseModel):
    owner: str = Field(description="Who does it; 'unassigned' when nobody was named")
    task: str = Field(min_length=1, description="What to do, as an imperative sentence")
    due: str | None = Field(default=None, description="The deadline as written, if any")


class ActionItems(BaseModel):
    items: list[ActionItem]


def extraction_prompt(meeting: MeetingNotes) -> str:
    return (
        "List every action item agreed in these meeting notes: who does it, what, and by "
        "when if a deadline was said. Leave out discussion that did not end in a decision. "
        "An empty list is a valid answer.\n\n"
        f"{meeting.notes}"
    )


extract = define_agent(
    runner="api",
    input=MeetingNotes,
    output=ActionItems,
    prompt=extraction_prompt,
    retry=RetryConfig(
        max=3,
        on=["output_validation_error", "rate_limit", "provider_unavailable", "timeout"],
    ),
)

workflow = define_workflow(
    name="action_items",
    description="Extract the action items from meeting notes with an OpenAI-compatible API.",
    tasks={"extract": task(extract)},
)
