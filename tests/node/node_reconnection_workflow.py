"""A workflow named as the conformance suite's ``test_reconnection`` tool (not a test module).

The suite's server-sse-polling scenario calls that tool with no arguments and expects the
server to close the call's SSE stream mid-call and the client to resume it, so the one task
takes long enough (a second) for a stream to be closed while it runs.
"""

from __future__ import annotations

import anyio
from pydantic import BaseModel

from ageflow.core import define_function, define_workflow, task


class Nothing(BaseModel):
    pass


class Done(BaseModel):
    message: str


async def wait_a_second(_: Nothing) -> Done:
    await anyio.sleep(1.0)
    return Done(message="Reconnection test completed")


workflow = define_workflow(
    name="test_reconnection",
    tasks={"wait": task(define_function(wait_a_second, input=Nothing, output=Done))},
)
