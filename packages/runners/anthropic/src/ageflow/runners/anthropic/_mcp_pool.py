"""MCP servers of a turn: pooled ones kept per runner, the others started per spawn.

The rules are the API runner's (its ``mcp_pool_key`` decides whether a pooled server may
serve another spawn; a dead pooled server is replaced); this class gives them to a runner
that is not an ``ApiRunner``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from ageflow.core.mcp import McpServerConfig
from ageflow.runners.api.errors import McpPoolCollisionError
from ageflow.runners.api.mcp_client import McpClient, shutdown_all
from ageflow.runners.api.runner import mcp_pool_key

McpStarter = Callable[[McpServerConfig], Awaitable[McpClient]]


class McpPool:
    def __init__(self, starter: McpStarter) -> None:
        self._starter = starter
        self._pool: dict[str, McpClient] = {}
        self._keys: dict[str, tuple[Any, ...]] = {}
        self._lock = anyio.Lock()

    async def acquire(
        self, servers: Sequence[McpServerConfig], per_spawn: list[McpClient]
    ) -> list[McpClient]:
        """Clients for ``servers`` in order; those started for this spawn only are appended
        to ``per_spawn`` as they start, so the caller can stop them whatever happens."""
        clients: list[McpClient] = []
        for config in servers:
            if config.reuse_per_runner:
                clients.append(await self._pooled(config))
            else:
                client = await self._starter(config)
                per_spawn.append(client)
                clients.append(client)
        return clients

    async def _pooled(self, config: McpServerConfig) -> McpClient:
        key = mcp_pool_key(config)
        async with self._lock:
            existing = self._pool.get(config.name)
            if existing is not None:
                if self._keys[config.name] != key:
                    raise McpPoolCollisionError(config.name)
                if existing.alive:
                    return existing
                del self._pool[config.name]  # died or was killed after a call timeout
                await shutdown_all([existing])
            client = await self._starter(config)
            self._pool[config.name] = client
            self._keys[config.name] = key
            return client

    async def close(self) -> None:
        """Stop every pooled server; harmless to call again."""
        async with self._lock:
            pooled = list(self._pool.values())
            self._pool.clear()
            self._keys.clear()
        await shutdown_all(pooled)
