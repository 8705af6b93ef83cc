"""``AnthropicRunner``: one agent turn on the Anthropic Messages API (official SDK)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import anyio

import anthropic
from ageflow.core.mcp import McpServerConfig
from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult, ValidateResult
from ageflow.runners.anthropic._mcp_pool import McpPool, McpStarter
from ageflow.runners.anthropic.errors import AnthropicNotConfiguredError, from_sdk_error
from ageflow.runners.anthropic.messages import (
    AnthropicMessage,
    build_anthropic_messages,
    system_param,
    tools_to_anthropic_schemas,
)
from ageflow.runners.anthropic.tool_loop import run_anthropic_tool_loop
from ageflow.runners.anthropic.version import RUNNER_NAME, RUNNER_VERSION
from ageflow.runners.api.inline_tools import merge_inline_tools
from ageflow.runners.api.mcp_client import McpClient, shutdown_all, start_mcp_client
from ageflow.runners.api.mcp_tools import mcp_tools_to_registry
from ageflow.runners.api.sessions import InMemorySessionStore, SessionStore
from ageflow.runners.api.tools import ToolDefinition, ToolRegistry

__all__ = ["AnthropicRunner", "AnthropicSpawnResult"]


@dataclass
class AnthropicSpawnResult(RunnerSpawnResult):
    """A turn's result with the Messages API's usage breakdown.

    ``tokens_in`` counts every prompt token (uncached + cache writes + cache reads), so the
    executor's cost estimate and budget see them; the parts are kept here as well.
    """

    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    stop_reason: str | None = None


class AnthropicRunner:
    """A runner for ``POST /v1/messages`` through ``anthropic.AsyncAnthropic``.

    ``api_key`` and ``base_url`` default to ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL``
    (the SDK's own defaults). ``max_retries`` is the SDK's and defaults to 0: the
    executor's retry policy decides, on the typed errors this runner raises.
    ``cache_prompt=True`` marks the system prompt and the tool list for prompt caching;
    register a runner with it under its own name for the agents that want caching.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        max_tokens: int = 8192,
        timeout_s: float = 120.0,
        max_retries: int = 0,
        max_tool_rounds: int = 10,
        cache_prompt: bool = False,
        thinking_budget_tokens: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        session_store: SessionStore | None = None,
        tools: Mapping[str, ToolDefinition] | None = None,
        logger: logging.Logger | None = None,
        mcp_starter: McpStarter | None = None,
        client: anthropic.AsyncAnthropic | None = None,
    ) -> None:
        if max_tool_rounds < 1:
            raise ValueError(f"max_tool_rounds must be >= 1, got {max_tool_rounds}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.base_url = base_url
        self.model = model
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_tool_rounds = max_tool_rounds
        self.cache_prompt = cache_prompt
        self.thinking_budget_tokens = thinking_budget_tokens
        self.default_headers = dict(default_headers or {})
        self.session_store: SessionStore = session_store or InMemorySessionStore()
        self.tools: ToolRegistry = dict(tools or {})
        self.logger = logger
        self._api_key = api_key
        self._client = client
        self._owns_client = client is None
        self._mcp = McpPool(mcp_starter or self._start_stdio_client)

    def __repr__(self) -> str:  # never show the key
        return f"AnthropicRunner(base_url={self.base_url!r}, model={self.model!r})"

    # -- protocol -----------------------------------------------------------------------

    async def validate(self) -> ValidateResult:
        """``GET /v1/models`` (free, unlike a test message): ok with the first model id as
        ``version``. Never raises."""
        try:
            client = self._sdk()
            with anyio.fail_after(self.timeout_s):
                page = await client.models.list(limit=1)
        except anthropic.APIStatusError as exc:
            return ValidateResult(ok=False, error=str(from_sdk_error(exc, "", self.timeout_s)))
        except TimeoutError:
            return ValidateResult(ok=False, error=f"timed out after {self.timeout_s:g}s")
        except Exception as exc:
            return ValidateResult(ok=False, error=str(exc) or type(exc).__name__)
        models = list(page.data)
        return ValidateResult(ok=True, version=models[0].id if models else None)

    async def spawn(self, args: RunnerSpawnArgs) -> AnthropicSpawnResult:
        """Run one turn: resume the session, run the tool loop, save the session."""
        model = args.model or self.model
        if not model:
            raise ValueError("AnthropicRunner.spawn: model not set and no default model configured")
        client = self._sdk()
        resumed = bool(args.session_handle)
        handle = args.session_handle if args.session_handle else str(uuid.uuid4())
        history = await self.session_store.get(handle) if resumed else None
        # The store is the API runner's; it holds whatever dicts this runner saved.
        messages = build_anthropic_messages(args.prompt, cast("list[AnthropicMessage]", history))

        registry = merge_inline_tools(self.tools, None, args.inline_tools)
        if args.tools is not None:
            registry = {name: t for name, t in registry.items() if name in args.tools}

        per_spawn: list[McpClient] = []
        try:
            clients = await self._mcp.acquire(args.mcp_servers or [], per_spawn)
            mcp_registry = await mcp_tools_to_registry(clients) if clients else {}
            if args.tools is not None and not args.tools:
                mcp_registry = {}  # deny-all covers MCP tools too
            merged = {**registry, **mcp_registry}
            names = _advertised(args.tools, registry, mcp_registry)
            loop = await run_anthropic_tool_loop(
                client=client,
                model=model,
                max_tokens=self.max_tokens,
                messages=messages,
                system=system_param(args.system_prompt, cache=self.cache_prompt),
                tools=tools_to_anthropic_schemas(merged, names, cache=self.cache_prompt),
                registry=merged,
                max_rounds=self.max_tool_rounds,
                request_timeout_s=self.timeout_s,
                thinking_budget_tokens=self.thinking_budget_tokens,
            )
            await self.session_store.set(handle, loop.messages)
            usage = loop.usage
            return AnthropicSpawnResult(
                stdout=loop.final_text,
                session_handle=handle,
                tokens_in=usage.total_input_tokens,
                tokens_out=usage.output_tokens,
                tool_calls=loop.tool_calls,
                cache_creation_input_tokens=usage.cache_creation_input_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens,
                stop_reason=loop.stop_reason,
            )
        finally:
            await shutdown_all(per_spawn)

    async def shutdown(self) -> None:
        """Stop pooled MCP servers and close the SDK client the runner created. Idempotent."""
        await self._mcp.close()
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def __aenter__(self) -> AnthropicRunner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # -- helpers ------------------------------------------------------------------------

    def _sdk(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            key = self._api_key or os.environ.get("ANTHROPIC_API_KEY")
            if not key:
                raise AnthropicNotConfiguredError()
            self._client = anthropic.AsyncAnthropic(
                api_key=key,
                base_url=self.base_url,
                timeout=self.timeout_s,
                max_retries=self.max_retries,
                default_headers=self.default_headers or None,
            )
        return self._client

    async def _start_stdio_client(self, config: McpServerConfig) -> McpClient:
        return await start_mcp_client(
            config,
            logger=self.logger,
            client_info={"name": RUNNER_NAME, "version": RUNNER_VERSION},
        )


def _advertised(
    allowlist: Sequence[str] | None, registry: ToolRegistry, mcp_registry: ToolRegistry
) -> list[str] | None:
    # The API runner's rule: without an allowlist only MCP tools bring a tool list.
    if allowlist is None:
        return [*registry, *mcp_registry] if mcp_registry else None
    return [*allowlist, *mcp_registry]
