"""A small MCP client over stdio: JSON-RPC 2.0, one JSON message per line.

Why not the SDK's ``stdio_client``: it is an async context manager whose task group must
be left by the task that entered it, while a pooled server outlives the ``spawn`` that
started it and is stopped by ``shutdown()`` from another task. It also hides the process,
which a call timeout has to terminate, and sends stderr to a file rather than a logger.
This client owns its process directly and talks to it one request at a time (a lock), so
any task may use or stop it. The SDK still supplies the protocol version and the default
child environment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import anyio
import anyio.abc
from mcp.client.stdio import get_default_environment
from mcp.types import LATEST_PROTOCOL_VERSION

from ageflow.core.errors import (
    McpProtocolError,
    McpServerCrashedError,
    McpServerStartFailedError,
    McpTimeoutError,
    McpToolCallFailedError,
)
from ageflow.core.mcp import McpServerConfig, McpToolDescriptor
from ageflow.core.wire import compact_json

__all__ = [
    "DEFAULT_MCP_CALL_TIMEOUT_MS",
    "DEFAULT_MCP_START_TIMEOUT_S",
    "McpClient",
    "StdioMcpClient",
    "shutdown_all",
    "start_mcp_client",
    "start_mcp_clients",
]

DEFAULT_MCP_CALL_TIMEOUT_MS = 30_000
DEFAULT_MCP_START_TIMEOUT_S = 30.0
_KILL_GRACE_S = 5.0  # SIGTERM first; SIGKILL if the server is still there after this
_STOP_GRACE_S = 2.0  # after closing stdin, how long a polite server gets to exit
_STDERR_FLUSH_S = 1.0  # after a crash, how long to wait for its last stderr lines

_log = logging.getLogger("ageflow.runners.api.mcp")


@runtime_checkable
class McpClient(Protocol):
    """A started MCP server as the runner uses it (fakes implement this in tests)."""

    @property
    def config(self) -> McpServerConfig: ...

    @property
    def alive(self) -> bool: ...

    async def list_tools(self) -> list[McpToolDescriptor]: ...

    async def call_tool(self, name: str, args: Any) -> Any: ...

    async def stop(self) -> None: ...


class _ServerGone(Exception):
    """The server closed stdout (exited) before answering."""


class StdioMcpClient:
    """One MCP server subprocess. Create it with :func:`start_mcp_client`."""

    def __init__(
        self,
        config: McpServerConfig,
        process: anyio.abc.Process,
        logger: logging.Logger | None,
        client_info: Mapping[str, str],
    ) -> None:
        self._config = config
        self._process = process
        self._logger = logger
        self._client_info = dict(client_info)
        self._lock = anyio.Lock()
        self._buffer = b""
        self._next_id = 0
        self._broken = False
        self._stderr_closed = anyio.Event()
        self._stopped = False

    @property
    def config(self) -> McpServerConfig:
        return self._config

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        """False once the server exited, was killed after a timeout or was stopped."""
        return not (self._broken or self._stopped) and self._process.returncode is None

    # -- protocol -----------------------------------------------------------------------

    async def initialize(self, timeout_s: float) -> None:
        with anyio.fail_after(timeout_s):
            await self._request(
                "initialize",
                {
                    "protocolVersion": LATEST_PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": self._client_info,
                },
            )
            await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def list_tools(self) -> list[McpToolDescriptor]:
        """One ``tools/list`` page (no cursor handling, as in the original)."""
        try:
            result = await self._request("tools/list", {})
        except _ServerGone as exc:
            raise McpServerCrashedError(self._config.name, self._process.returncode) from exc
        except _RpcError as exc:
            raise McpProtocolError(self._config.name, f"tools/list failed: {exc}") from exc
        tools = result.get("tools") if isinstance(result, Mapping) else None
        if not isinstance(tools, list):
            raise McpProtocolError(self._config.name, "tools/list result has no tools list")
        descriptors: list[McpToolDescriptor] = []
        for tool in tools:
            if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
                continue
            description = tool.get("description")
            schema = tool.get("inputSchema")
            descriptors.append(
                McpToolDescriptor(
                    name=tool["name"],
                    description=description if isinstance(description, str) else None,
                    input_schema=dict(schema) if isinstance(schema, Mapping) else None,
                )
            )
        return descriptors

    async def call_tool(self, name: str, args: Any) -> Any:
        """``tools/call`` within the server's call timeout; returns the raw result object.

        On timeout the server is terminated (it may be stuck mid-write, so the stream can
        no longer be trusted) and :class:`McpTimeoutError` is raised; an ``isError`` result
        raises :class:`McpToolCallFailedError` with the result's text.
        """
        timeout_ms = self._config.mcp_call_timeout_ms or DEFAULT_MCP_CALL_TIMEOUT_MS
        server = self._config.name
        try:
            with anyio.fail_after(timeout_ms / 1000):
                result = await self._request("tools/call", {"name": name, "arguments": args})
        except TimeoutError as exc:
            self._broken = True
            await self._terminate()
            raise McpTimeoutError(server, name, timeout_ms, cause=exc) from exc
        except _ServerGone as exc:
            raise McpToolCallFailedError(server, name, "server exited", cause=exc) from exc
        except _RpcError as exc:
            raise McpToolCallFailedError(server, name, str(exc), cause=exc) from exc
        if isinstance(result, Mapping) and result.get("isError") is True:
            raise McpToolCallFailedError(server, name, _error_text(result))
        return result

    async def stop(self) -> None:
        """Close stdin, give the server a moment to exit, then terminate it. Never raises."""
        if self._stopped:
            return
        self._stopped = True
        try:
            with anyio.CancelScope(shield=True):
                if self._process.stdin is not None:
                    # Already closed when the server died first.
                    with contextlib.suppress(Exception):
                        await self._process.stdin.aclose()
                with anyio.move_on_after(_STOP_GRACE_S):
                    await self._wait_exit()
                await self._terminate()
                await self._process.aclose()
        except Exception as exc:
            _log.warning("McpClient.stop: close error for %s: %s", self._config.name, exc)

    # -- transport ----------------------------------------------------------------------

    async def _send(self, message: Mapping[str, Any]) -> None:
        stdin = self._process.stdin
        if stdin is None:  # pragma: no cover - the process is always opened with pipes
            raise _ServerGone()
        try:
            await stdin.send((compact_json(message) + "\n").encode())
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise _ServerGone() from exc

    async def _request(self, method: str, params: Mapping[str, Any]) -> Any:
        async with self._lock:
            if self._broken:
                raise _ServerGone()
            self._next_id += 1
            request_id = self._next_id
            outcome: list[Any] = []
            failure: list[Exception] = []
            async with anyio.create_task_group() as tg:
                # stderr is only read while a request is in flight; that covers start-up
                # crashes, which is when a server has something to say.
                tg.start_soon(self._drain_stderr)
                try:
                    await self._send(
                        {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
                    )
                    outcome.append(await self._read_response(request_id))
                except _ServerGone as exc:
                    with anyio.move_on_after(_STDERR_FLUSH_S):
                        await self._stderr_closed.wait()
                    failure.append(exc)
                except _RpcError as exc:
                    failure.append(exc)
                tg.cancel_scope.cancel()
            # Raised outside the task group, so callers see the error itself, not a group.
            if failure:
                raise failure[0]
            return outcome[0]

    async def _read_response(self, request_id: int) -> Any:
        while True:
            message = await self._read_message()
            if "method" in message:
                await self._answer_server_message(message)
                continue
            if message.get("id") != request_id:
                continue  # a late answer to a request that timed out
            error = message.get("error")
            if error is not None:
                detail = error.get("message") if isinstance(error, Mapping) else None
                raise _RpcError(str(detail if detail is not None else error))
            return message.get("result")

    async def _answer_server_message(self, message: Mapping[str, Any]) -> None:
        if "id" not in message:
            return  # a notification (logging, progress...): nothing to answer
        if message.get("method") == "ping":
            await self._send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
        else:  # this client declares no capabilities (no sampling, roots, elicitation)
            await self._send(
                {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {"code": -32601, "message": "Method not found"},
                }
            )

    async def _read_message(self) -> dict[str, Any]:
        stdout = self._process.stdout
        if stdout is None:  # pragma: no cover
            raise _ServerGone()
        while True:
            line, sep, rest = self._buffer.partition(b"\n")
            if sep:
                self._buffer = rest
                if not line.strip():
                    continue
                try:
                    decoded = json.loads(line)
                except ValueError:
                    continue  # a stray non-JSON line (a server printing to stdout)
                if isinstance(decoded, dict):
                    return decoded
                continue
            try:
                self._buffer += await stdout.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                raise _ServerGone() from None

    async def _drain_stderr(self) -> None:
        stderr = self._process.stderr
        if stderr is None or self._stderr_closed.is_set():
            return
        try:
            while True:
                chunk = await stderr.receive()
                text = chunk.decode(errors="replace").rstrip()
                if text and self._logger is not None:
                    self._logger.debug(f"[mcp:{self._config.name}] {text}")
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._stderr_closed.set()

    async def _wait_exit(self) -> None:
        # Poll the return code: Process.wait() would also wait for the pipes to close.
        while self._process.returncode is None:  # noqa: ASYNC110 - no event for a child exit
            await anyio.sleep(0.02)

    async def _terminate(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after a grace period."""
        if self._process.returncode is not None:
            return
        with anyio.CancelScope(shield=True):
            _signal_group(self._process.pid, signal.SIGTERM)
            with anyio.move_on_after(_KILL_GRACE_S):
                await self._wait_exit()
                return
            _signal_group(self._process.pid, signal.SIGKILL)
            with anyio.move_on_after(_KILL_GRACE_S):
                await self._wait_exit()


class _RpcError(Exception):
    """A JSON-RPC error response."""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the server runs in its own session: its children go too
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _error_text(result: Mapping[str, Any]) -> str:
    content = result.get("content")
    texts: list[str] = []
    if isinstance(content, list):
        for item in content:
            text = item.get("text") if isinstance(item, Mapping) else None
            texts.append(text if isinstance(text, str) else "")
    joined = " ".join(texts).strip()
    return joined or "isError:true"


async def start_mcp_client(
    config: McpServerConfig,
    *,
    logger: logging.Logger | None = None,
    client_info: Mapping[str, str],
    start_timeout_s: float = DEFAULT_MCP_START_TIMEOUT_S,
) -> StdioMcpClient:
    """Start one server and complete the MCP handshake.

    The child gets the SDK's small default environment plus ``config.env`` (values are
    used verbatim: ``${env:…}`` expansion is the executor's job). Any failure raises
    :class:`McpServerStartFailedError`.
    """
    env = {**get_default_environment(), **(config.env or {})}
    try:
        process = await anyio.open_process(
            [config.command, *(config.args or [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if logger is not None else subprocess.DEVNULL,
            cwd=config.cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise McpServerStartFailedError(config.name, str(exc), cause=exc) from exc
    client = StdioMcpClient(config, process, logger, client_info)
    try:
        await client.initialize(start_timeout_s)
    except BaseException as exc:
        await client.stop()
        if isinstance(exc, _ServerGone):
            reason = f"server exited during initialize (exit code {process.returncode})"
        elif isinstance(exc, TimeoutError):
            reason = f"no initialize answer within {start_timeout_s:g}s"
        elif isinstance(exc, Exception):
            reason = str(exc) or type(exc).__name__
        else:
            raise
        raise McpServerStartFailedError(config.name, reason, cause=exc) from exc
    return client


async def start_mcp_clients(
    servers: Sequence[McpServerConfig],
    *,
    logger: logging.Logger | None = None,
    client_info: Mapping[str, str],
) -> list[StdioMcpClient]:
    """Start servers one after another; on a failure stop those already started."""
    started: list[StdioMcpClient] = []
    try:
        for config in servers:
            started.append(await start_mcp_client(config, logger=logger, client_info=client_info))
    except BaseException:
        await shutdown_all(started)
        raise
    return started


async def shutdown_all(clients: Sequence[McpClient]) -> None:
    """Stop clients concurrently; a failing stop does not keep the others from stopping."""

    async def stop_one(client: McpClient) -> None:
        try:
            await client.stop()
        except Exception as exc:
            _log.warning("McpClient.stop: close error for %s: %s", client.config.name, exc)

    with anyio.CancelScope(shield=True):
        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(stop_one, client)
