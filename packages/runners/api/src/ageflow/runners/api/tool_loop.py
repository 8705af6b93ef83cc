"""The tool-calling loop: ask the model, run the tools it names, repeat until it answers."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ageflow.core.errors import AgentFlowError
from ageflow.core.runner import ToolCallRecord
from ageflow.core.wire import compact_json
from ageflow.runners.api.errors import ApiRequestError, MaxToolRoundsError, ToolNotFoundError
from ageflow.runners.api.http import build_headers, endpoint_url, request_json
from ageflow.runners.api.messages import ChatMessage
from ageflow.runners.api.tools import ToolDefinition, call_tool_definition

__all__ = ["ToolLoopResult", "decode_tool_arguments", "run_tool_loop", "tool_result_content"]


@dataclass
class ToolLoopResult:
    final_text: str
    tokens_in: int = 0
    tokens_out: int = 0
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    messages: list[ChatMessage] = field(default_factory=list)


def decode_tool_arguments(raw: Any) -> Any:
    """The model's argument string as a value: ``""`` is ``{}``, bad JSON is kept under
    ``__raw`` so the tool (and the record) still sees what the model sent."""
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return {"__raw": raw}


def tool_result_content(result: Any) -> str:
    """A tool result as message content: strings as they are, None as ``""``, else JSON."""
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    return compact_json(_jsonable(result))


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_none=True)
    return value


def _tool_error_text(exc: Exception) -> str:
    # The model sees the failure and may correct itself; an ageflow error's code leads so
    # that both the model and tests can tell a refused argument from a crashed tool.
    if isinstance(exc, AgentFlowError):
        return f"error: {exc.code}: {exc}"
    return f"error: {exc}"


def _token_count(usage: Any, key: str) -> int:
    if not isinstance(usage, Mapping):
        return 0
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


async def run_tool_loop(
    *,
    client: httpx.AsyncClient,
    base_url: str,
    api_key: str,
    headers: Mapping[str, str],
    model: str,
    messages: Sequence[ChatMessage],
    tools: Sequence[Mapping[str, Any]] | None,
    registry: Mapping[str, ToolDefinition],
    max_rounds: int,
    request_timeout_s: float,
) -> ToolLoopResult:
    """Run chat requests until the model stops calling tools, at most ``max_rounds`` of them.

    Tool calls run one after another in the model's order. A tool that raises becomes an
    ``error: …`` result the model sees; a tool that is not in ``registry`` aborts the turn
    with :class:`ToolNotFoundError`, since it is either a hallucination or an attempt to
    reach a tool this agent was not given. ``messages`` is not modified.
    """
    url = endpoint_url(base_url, "chat/completions")
    request_headers = build_headers(api_key, headers, json_body=True)
    conversation: list[ChatMessage] = list(messages)
    result = ToolLoopResult(final_text="", messages=conversation)
    for _ in range(max_rounds):
        body: dict[str, Any] = {"model": model, "messages": conversation}
        if tools:
            body["tools"] = list(tools)
        data = await request_json(client, "POST", url, request_headers, body, request_timeout_s)
        if not isinstance(data, Mapping):
            raise ApiRequestError(200, "response body is not a JSON object")
        usage = data.get("usage")
        result.tokens_in += _token_count(usage, "prompt_tokens")
        result.tokens_out += _token_count(usage, "completion_tokens")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise ApiRequestError(500, "no choices in response")
        message = choices[0].get("message")
        if not isinstance(message, Mapping):
            raise ApiRequestError(500, "no message in the first choice")

        # Keep every field the provider sent (reasoning, refusal...), normalising content.
        assistant: dict[str, Any] = {**message, "role": "assistant"}
        assistant["content"] = message.get("content") or ""
        if "tool_calls" not in message or message.get("tool_calls") is None:
            assistant.pop("tool_calls", None)
        conversation.append(assistant)

        calls = message.get("tool_calls") or []
        if not calls:
            result.final_text = assistant["content"]
            return result
        for call in calls:
            function = call.get("function") or {}
            name = function.get("name", "")
            args = decode_tool_arguments(function.get("arguments"))
            tool = registry.get(name)
            if tool is None:
                raise ToolNotFoundError(name)
            started = time.monotonic()
            try:
                output = await call_tool_definition(tool, args)
            except Exception as exc:
                output = _tool_error_text(exc)
            duration_ms = int((time.monotonic() - started) * 1000)
            result.tool_calls.append(
                ToolCallRecord(
                    name=name,
                    args=args if isinstance(args, dict) else {"__value": args},
                    result=output,
                    duration_ms=duration_ms,
                )
            )
            conversation.append(
                {
                    "role": "tool",
                    "tool_call_id": call.get("id", ""),
                    "content": tool_result_content(output),
                }
            )
    raise MaxToolRoundsError(max_rounds)
