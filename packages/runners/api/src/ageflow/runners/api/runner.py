"""``ApiRunner``: one agent turn against an OpenAI-compatible chat completions API."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import httpx

from ageflow.core.mcp import McpServerConfig
from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult, ValidateResult
from ageflow.runners.api.errors import McpPoolCollisionError
from ageflow.runners.api.http import build_headers, endpoint_url, request_json
from ageflow.runners.api.inline_tools import merge_inline_tools
from ageflow.runners.api.mcp_client import McpClient, shutdown_all, start_mcp_client
from ageflow.runners.api.mcp_tools import mcp_tools_to_registry
from ageflow.runners.api.messages import build_initial_messages
from ageflow.runners.api.sessions import InMemorySessionStore, SessionStore
from ageflow.runners.api.tool_loop import run_tool_loop
from ageflow.runners.api.tools import ToolDefinition, ToolRegistry, tools_to_schemas
from ageflow.runners.api.version import RUNNER_NAME, RUNNER_VERSION

__all__ = ["ApiRunner", "McpStarter", "mcp_pool_key"]

McpStarter = Callable[[McpServerConfig], Awaitable[McpClient]]
"""Starts one MCP server; the seam tests use to hand in fake clients."""


def mcp_pool_key(config: McpServerConfig) -> tuple[Any, ...]:
    """What must match for a pooled server to serve another spawn.

    Beyond the original (which compared only command, args, env, cwd and tools): the
    call timeout and the refine schemas (by identity) count too, so a spawn never runs
    under another spawn's argument checks or timeout.
    """
    return (
        config.command,
        config.cwd,
        tuple(config.args or ()),
        tuple(sorted((config.env or {}).items())),
        None if config.tools is None else tuple(sorted(config.tools)),
        config.mcp_call_timeout_ms,
        None
        if config.refine is None
        else tuple(sorted((tool, id(schema)) for tool, schema in config.refine.items())),
    )


class ApiRunner:
    """A runner for any OpenAI-compatible ``/chat/completions`` endpoint.

    ``model`` is the default model (an agent's own model wins). ``tools`` are always
    executable and advertised only under an allowlist or alongside MCP tools.
    ``timeout_s`` bounds each HTTP request as a whole; ``max_tool_rounds`` bounds the
    number of chat requests per turn. Pass ``http_client`` to control transport, proxies
    or connection limits (the runner never closes a client it did not create).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout_s: float = 120.0,
        max_tool_rounds: int = 10,
        session_store: SessionStore | None = None,
        tools: Mapping[str, ToolDefinition] | None = None,
        logger: logging.Logger | None = None,
        mcp_starter: McpStarter | None = None,
    ) -> None:
        if max_tool_rounds < 1:
            raise ValueError(f"max_tool_rounds must be >= 1, got {max_tool_rounds}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.base_url = base_url.rstrip("/") if "?" not in base_url else base_url
        self.model = model
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self.max_tool_rounds = max_tool_rounds
        self.session_store: SessionStore = session_store or InMemorySessionStore()
        self.tools: ToolRegistry = dict(tools or {})
        self.logger = logger
        self._api_key = api_key
        self._client = http_client
        self._owns_client = http_client is None
        self._mcp_starter = mcp_starter or self._start_stdio_client
        self._pool: dict[str, McpClient] = {}
        self._pool_keys: dict[str, tuple[Any, ...]] = {}
        self._pool_lock = anyio.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"ApiRunner(base_url={self.base_url!r}, model={self.model!r})"

    # -- protocol -----------------------------------------------------------------------

    async def validate(self) -> ValidateResult:
        """``GET /models``: ok with the first model id as ``version``. Never raises."""
        try:
            data = await request_json(
                self._http(),
                "GET",
                endpoint_url(self.base_url, "models"),
                build_headers(self._api_key, self.headers, json_body=False),
                None,
                self.timeout_s,
            )
        except Exception as exc:
            status = getattr(exc, "status", None)
            if isinstance(status, int) and status != 200:
                reason = httpx.codes.get_reason_phrase(status)
                return ValidateResult(ok=False, error=f"HTTP {status} {reason}".strip())
            return ValidateResult(ok=False, error=str(exc) or type(exc).__name__)
        version: str | None = None
        if isinstance(data, Mapping):
            models = data.get("data")
            if isinstance(models, list) and models and isinstance(models[0], Mapping):
                model_id = models[0].get("id")
                version = model_id if isinstance(model_id, str) else None
        return ValidateResult(ok=True, version=version)

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        """Run one turn: resume the session, run the tool loop, save the session."""
        model = args.model or self.model
        if not model:
            raise ValueError("ApiRunner.spawn: model not set and no default model configured")
        resumed = bool(args.session_handle)
        handle = args.session_handle if args.session_handle else str(uuid.uuid4())
        history = await self.session_store.get(handle) if resumed else None
        messages = build_initial_messages(args.prompt, args.system_prompt, history)

        registry = merge_inline_tools(self.tools, None, args.inline_tools)
        if args.tools is not None:
            registry = {name: t for name, t in registry.items() if name in args.tools}

        per_spawn: list[McpClient] = []
        try:
            clients = await self._acquire_mcp_clients(args.mcp_servers or [], per_spawn)
            mcp_registry = await mcp_tools_to_registry(clients) if clients else {}
            if args.tools is not None and not args.tools:
                mcp_registry = {}  # deny-all covers MCP tools too
            merged = {**registry, **mcp_registry}
            names = self._advertised(args.tools, registry, mcp_registry)
            schemas = tools_to_schemas(merged, names)
            loop = await run_tool_loop(
                client=self._http(),
                base_url=self.base_url,
                api_key=self._api_key,
                headers=self.headers,
                model=model,
                messages=messages,
                tools=schemas,
                registry=merged,
                max_rounds=self.max_tool_rounds,
                request_timeout_s=self.timeout_s,
            )
            await self.session_store.set(handle, loop.messages)
            return RunnerSpawnResult(
                stdout=loop.final_text,
                session_handle=handle,
                tokens_in=loop.tokens_in,
                tokens_out=loop.tokens_out,
                tool_calls=loop.tool_calls,
            )
        finally:
            await shutdown_all(per_spawn)

    async def shutdown(self) -> None:
        """Stop pooled MCP servers and close the HTTP client the runner created. Idempotent."""
        async with self._pool_lock:
            pooled = list(self._pool.values())
            self._pool.clear()
            self._pool_keys.clear()
        await shutdown_all(pooled)
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> ApiRunner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # -- helpers ------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Timeouts are enforced per request by the runner; httpx's per-phase ones are off.
            self._client = httpx.AsyncClient(timeout=None)
        return self._client

    @staticmethod
    def _advertised(
        allowlist: Sequence[str] | None, registry: ToolRegistry, mcp_registry: ToolRegistry
    ) -> list[str] | None:
        if allowlist is None:
            # Without an allowlist only MCP tools bring a tool list to the request.
            return [*registry, *mcp_registry] if mcp_registry else None
        return [*allowlist, *mcp_registry]

    async def _start_stdio_client(self, config: McpServerConfig) -> McpClient:
        return await start_mcp_client(
            config,
            logger=self.logger,
            client_info={"name": RUNNER_NAME, "version": RUNNER_VERSION},
        )

    async def _acquire_mcp_clients(
        self, servers: Sequence[McpServerConfig], per_spawn: list[McpClient]
    ) -> list[McpClient]:
        """Clients for ``servers`` in order: pooled ones reused, others started for this
        spawn (recorded in ``per_spawn`` as they start, so the caller can stop them)."""
        clients: list[McpClient] = []
        for config in servers:
            if config.reuse_per_runner:
                clients.append(await self._pooled_client(config))
            else:
                client = await self._mcp_starter(config)
                per_spawn.append(client)
                clients.append(client)
        return clients

    async def _pooled_client(self, config: McpServerConfig) -> McpClient:
        key = mcp_pool_key(config)
        async with self._pool_lock:
            existing = self._pool.get(config.name)
            if existing is not None:
                if self._pool_keys[config.name] != key:
                    raise McpPoolCollisionError(config.name)
                if existing.alive:
                    return existing
                # A server that died or was killed after a call timeout is replaced, not
                # kept broken in the pool (a known gap of the original).
                del self._pool[config.name]
                await shutdown_all([existing])
            client = await self._mcp_starter(config)
            self._pool[config.name] = client
            self._pool_keys[config.name] = key
            return client
