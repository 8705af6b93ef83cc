"""The :class:`ClientConnection` of a ``tools/call`` that came through the MCP SDK."""

from __future__ import annotations

from typing import Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import NoBackChannelError

from ageflow.core.events import WorkflowEvent
from ageflow.mcp_server.errors import ErrorCode, McpServerError
from ageflow.mcp_server.logging_bridge import CallLog, SessionLogLevels
from ageflow.mcp_server.tool_call import ElicitAnswer


class SdkConnection:
    """A :class:`ClientConnection` over the SDK request context of one ``tools/call``."""

    def __init__(
        self, ctx: ServerRequestContext[Any], levels: SessionLogLevels | None = None
    ) -> None:
        self._ctx = ctx
        self._log = CallLog(ctx, levels)

    @property
    def supports_elicitation(self) -> bool:
        wanted = types.ClientCapabilities(elicitation=types.ElicitationCapability())
        return self._ctx.session.check_client_capability(wanted)

    async def elicit(self, message: str, schema: dict[str, Any]) -> ElicitAnswer:
        try:
            answer = await self._ctx.session.elicit_form(
                message, schema, related_request_id=self._ctx.request_id
            )
        except NoBackChannelError as exc:
            # Connections without server-to-client requests cannot elicit at all.
            task = message[1 : message.index("]")] if message.startswith("[") else ""
            raise elicitation_unsupported(task) from exc
        return ElicitAnswer(answer.action, answer.content)

    async def progress(self, progress: float, message: str) -> None:
        await self._ctx.session.report_progress(progress, None, message)

    async def log_event(self, event: WorkflowEvent) -> None:
        await self._log.on_event(event)


def elicitation_unsupported(task: str) -> McpServerError:
    return McpServerError(
        ErrorCode.HITL_ELICITATION_UNSUPPORTED,
        f"HITL_ELICITATION_UNSUPPORTED: [{task}] client does not support elicitation; "
        "HITL checkpoint cannot be resolved",
        {"task": task},
    )
