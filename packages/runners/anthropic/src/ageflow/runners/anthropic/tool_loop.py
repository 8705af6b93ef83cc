"""The Messages API tool loop: ask, run the ``tool_use`` blocks, answer with
``tool_result`` blocks, until the model stops asking or the round limit is reached."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

import anthropic
from ageflow.core.errors import AgentFlowError
from ageflow.core.runner import ToolCallRecord
from ageflow.runners.anthropic.errors import AnthropicRequestError, from_sdk_error
from ageflow.runners.anthropic.messages import AnthropicMessage
from ageflow.runners.api.errors import ApiTimeoutError, MaxToolRoundsError, ToolNotFoundError
from ageflow.runners.api.tool_loop import tool_result_content
from ageflow.runners.api.tools import ToolDefinition, call_tool_definition

__all__ = ["AnthropicLoopResult", "AnthropicUsage", "run_anthropic_tool_loop"]


@dataclass
class AnthropicUsage:
    """Token counts summed over a turn's requests. ``input_tokens`` is the uncached part."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Every prompt token the model read: uncached, written to and read from the cache."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def add(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        self.input_tokens += _count(usage, "input_tokens")
        self.output_tokens += _count(usage, "output_tokens")
        self.cache_creation_input_tokens += _count(usage, "cache_creation_input_tokens")
        self.cache_read_input_tokens += _count(usage, "cache_read_input_tokens")


@dataclass
class AnthropicLoopResult:
    final_text: str
    usage: AnthropicUsage = field(default_factory=AnthropicUsage)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    messages: list[AnthropicMessage] = field(default_factory=list)
    stop_reason: str | None = None


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _final_text(content: Sequence[Any]) -> str:
    return "".join(
        block.get("text", "")
        for block in content
        if isinstance(block, Mapping) and block.get("type") == "text"
    )


def _tool_error_text(exc: Exception) -> str:
    # An ageflow error's code leads, so the model (and tests) can tell a refused argument
    # from a crashed tool; the same wording as the API runner's loop.
    if isinstance(exc, AgentFlowError):
        return f"error: {exc.code}: {exc}"
    return f"error: {exc}"


async def _create(
    client: anthropic.AsyncAnthropic, params: dict[str, Any], url: str, timeout_s: float
) -> dict[str, Any]:
    """One ``messages.create`` within one deadline, as the dict the API sent."""
    try:
        with anyio.fail_after(timeout_s):
            message = await client.messages.create(**params)
    except TimeoutError as exc:
        raise ApiTimeoutError(url, timeout_s, cause=exc) from exc
    except anthropic.APIError as exc:
        raise from_sdk_error(exc, url, timeout_s) from exc
    except ValueError as exc:  # a 2xx body that is not JSON (the SDK lets json's error out)
        raise AnthropicRequestError(200, f"invalid JSON body: {exc}", cause=exc) from exc
    data = message.to_dict() if hasattr(message, "to_dict") else None
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise AnthropicRequestError(200, f"response has no content list: {message!r:.300}")
    return data


async def run_anthropic_tool_loop(
    *,
    client: anthropic.AsyncAnthropic,
    model: str,
    max_tokens: int,
    messages: Sequence[AnthropicMessage],
    system: str | list[dict[str, Any]] | None,
    tools: Sequence[Mapping[str, Any]] | None,
    registry: Mapping[str, ToolDefinition],
    max_rounds: int,
    request_timeout_s: float,
    thinking_budget_tokens: int | None = None,
) -> AnthropicLoopResult:
    """Run Messages requests until the model stops asking for tools (``max_rounds`` at most).

    ``tool_use`` blocks run one after another in the model's order and all their results go
    back in one user message. A tool that raises becomes an ``error: …`` result (marked
    ``is_error``) the model sees; a tool not in ``registry`` aborts the turn with
    :class:`ToolNotFoundError`. ``messages`` is not modified.
    """
    url = str(client.base_url).rstrip("/") + "/v1/messages"
    conversation: list[AnthropicMessage] = list(messages)
    result = AnthropicLoopResult(final_text="", messages=conversation)
    for _ in range(max_rounds):
        params: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
        params["messages"] = conversation
        if system is not None:
            params["system"] = system
        if tools:
            params["tools"] = list(tools)
        if thinking_budget_tokens is not None:
            params["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget_tokens}
        data = await _create(client, params, url, request_timeout_s)
        result.usage.add(data.get("usage"))
        content: list[Any] = data["content"]
        # The whole content list is kept: thinking blocks must be replayed with signatures.
        conversation.append({"role": "assistant", "content": content})
        result.stop_reason = data.get("stop_reason")
        uses = [
            block
            for block in content
            if isinstance(block, Mapping) and block.get("type") == "tool_use"
        ]
        # end_turn, stop_sequence, max_tokens, anything unknown: the turn is over.
        if result.stop_reason != "tool_use" or not uses:
            result.final_text = _final_text(content)
            return result
        tool_results: list[dict[str, Any]] = []
        for block in uses:
            name = str(block.get("name", ""))
            args = block.get("input")
            args = args if isinstance(args, dict) else {}
            tool = registry.get(name)
            if tool is None:
                raise ToolNotFoundError(name)
            started = time.monotonic()
            failed = False
            try:
                output = await call_tool_definition(tool, args)
            except Exception as exc:
                output, failed = _tool_error_text(exc), True
            result.tool_calls.append(
                ToolCallRecord(
                    name=name,
                    args=args,
                    result=output,
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
            )
            entry: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": block.get("id", ""),
                "content": tool_result_content(output),
            }
            if failed:
                entry["is_error"] = True
            tool_results.append(entry)
        conversation.append({"role": "user", "content": tool_results})
    raise MaxToolRoundsError(max_rounds)
