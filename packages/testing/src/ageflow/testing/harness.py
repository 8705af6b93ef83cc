"""Run a workflow against mock runners, without touching the process-wide registry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ageflow.core.metrics import WorkflowResult
from ageflow.core.registry import RunnerRegistry, default_registry
from ageflow.core.tasks import AgentTask, LoopDef, TaskDef
from ageflow.core.workflow import WorkflowDef
from ageflow.executor import WorkflowExecutor
from ageflow.executor.engine import CheckpointHandler
from ageflow.executor.executor import EventStream
from ageflow.testing.mock_runner import MockRunner, TaskStats


def runner_names(tasks: Mapping[str, TaskDef]) -> Iterator[str]:
    """Every runner name the agent tasks of ``tasks`` use, loops included."""
    for node in tasks.values():
        if isinstance(node, LoopDef):
            yield from runner_names(node.tasks)
        elif isinstance(node, AgentTask):
            yield node.agent.runner


class TestHarness:
    """Runs a workflow with one MockRunner standing in for every runner it names.

    The mocks live in a registry of the harness's own (layered over ``base_registry``), so
    real runners registered in the process are never replaced and several harnesses can
    run at once. Statistics accumulate across runs until ``reset()``.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        workflow: WorkflowDef,
        *,
        base_registry: RunnerRegistry | None = None,
        approve_checkpoints: bool | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        self.workflow = workflow
        self.runner = MockRunner()
        base = base_registry if base_registry is not None else default_registry
        self.registry = base.overlay(dict.fromkeys(runner_names(workflow.tasks), self.runner))
        self.approve_checkpoints = approve_checkpoints
        self.max_concurrency = max_concurrency

    def mock_agent(self, task_name: str, responses: Any) -> TestHarness:
        """Canned answers for ``task_name`` (inner loop tasks by their inner name)."""
        self.runner.mock(task_name, responses)
        return self

    def get_task(self, task_name: str) -> TaskStats:
        return self.runner.stats(task_name)

    def reset(self) -> None:
        self.runner.reset()

    def executor(self) -> WorkflowExecutor:
        return WorkflowExecutor(
            self.workflow, registry=self.registry, max_concurrency=self.max_concurrency
        )

    def _checkpoint_handler(self, given: CheckpointHandler | None) -> CheckpointHandler | None:
        if given is not None or self.approve_checkpoints is None:
            return given
        decision = self.approve_checkpoints
        return lambda _event: decision

    async def run(
        self, input: Any = None, *, on_checkpoint: CheckpointHandler | None = None
    ) -> WorkflowResult:
        """Run the workflow once; checkpoints follow ``approve_checkpoints`` when set."""
        return await self.executor().run(
            input, on_checkpoint=self._checkpoint_handler(on_checkpoint)
        )

    def stream(
        self, input: Any = None, *, on_checkpoint: CheckpointHandler | None = None
    ) -> EventStream:
        return self.executor().stream(input, on_checkpoint=self._checkpoint_handler(on_checkpoint))


def create_test_harness(workflow: WorkflowDef, **options: Any) -> TestHarness:
    """A TestHarness for ``workflow`` (see TestHarness for the options)."""
    return TestHarness(workflow, **options)
