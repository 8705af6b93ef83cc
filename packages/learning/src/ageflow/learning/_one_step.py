"""Workflows of one function step (evaluation, promotion), and running them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from ageflow.core.definitions import define_function
from ageflow.core.tasks import task
from ageflow.core.workflow import WorkflowDef, define_workflow
from ageflow.executor.executor import WorkflowExecutor

OutputT = TypeVar("OutputT", bound=BaseModel)


class NoInput(BaseModel):
    """The input of a step that reads everything from its stores."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def one_step_workflow(
    *,
    name: str,
    description: str,
    step: str,
    execute: Callable[[NoInput], Awaitable[BaseModel]],
    output: type[BaseModel],
) -> WorkflowDef:
    """A workflow whose only task, ``step``, runs ``execute``."""
    fn = define_function(execute, input=NoInput, output=output, name=step)
    return define_workflow(
        name=name, description=description, tasks={step: task(fn, input=NoInput())}
    )


async def run_step(workflow: WorkflowDef, step: str, output: type[OutputT]) -> OutputT:
    """Run a one-step workflow on the executor and return its step's output."""
    result = await WorkflowExecutor(workflow).run()
    return output.model_validate(result.outputs[step])
