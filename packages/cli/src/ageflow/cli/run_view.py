"""What ``ageflow run`` shows while a run goes: one row per task, fed by the run's events.

On a terminal the rows are a live table; elsewhere (pipes, CI logs) each change is one
plain line, so logs stay readable. Either way the view writes to stderr and stdout keeps
only the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ageflow.core.events import (
    CheckpointEvent,
    LoopIterationEvent,
    TaskCompleteEvent,
    TaskErrorEvent,
    TaskRestoredEvent,
    TaskRetryEvent,
    TaskSkipEvent,
    TaskStartEvent,
    WorkflowCompleteEvent,
    WorkflowEvent,
)
from ageflow.core.metrics import TaskMetrics

# state -> (symbol, rich style)
STATE_MARKS: dict[str, tuple[str, str]] = {
    "running": ("●", "yellow"),
    "done": ("✓", "green"),
    "restored": ("↺", "cyan"),
    "skipped": ("–", "dim"),
    "failed": ("✗", "red"),
    "retrying": ("↻", "yellow"),
    "waiting": ("⏸", "magenta"),
    "looping": ("⟳", "blue"),
}


@dataclass
class TaskRow:
    """The latest known state of one task (inner loop tasks show their last iteration)."""

    name: str
    state: str
    detail: str = ""


def describe_metrics(metrics: TaskMetrics) -> str:
    """``1.2s · 10/20 tok · $0.0012``: latency, tokens in/out, and cost when there is one."""
    text = f"{metrics.latency_ms / 1000:.1f}s · {metrics.tokens_in}/{metrics.tokens_out} tok"
    if metrics.estimated_cost > 0:
        text += f" · ${metrics.estimated_cost:.4f}"
    return text


def row_change(event: WorkflowEvent) -> TaskRow | None:
    """The row an event sets, or None for events that change no task."""
    if isinstance(event, TaskStartEvent):
        return TaskRow(event.task_name, "running")
    if isinstance(event, TaskCompleteEvent):
        return TaskRow(event.task_name, "done", describe_metrics(event.metrics))
    if isinstance(event, TaskRestoredEvent):
        return TaskRow(event.task_name, "restored", "from the journal, not run again")
    if isinstance(event, TaskSkipEvent):
        return TaskRow(event.task_name, "skipped", "skip_if")
    if isinstance(event, TaskErrorEvent):
        state = "failed" if event.terminal else "retrying"
        return TaskRow(event.task_name, state, event.error.message)
    if isinstance(event, TaskRetryEvent):
        return TaskRow(event.task_name, "retrying", f"attempt {event.attempt}: {event.reason}")
    if isinstance(event, LoopIterationEvent):
        return TaskRow(event.task_name, "looping", f"iteration {event.iteration}/{event.max}")
    if isinstance(event, CheckpointEvent):
        return TaskRow(event.task_name, "waiting", event.message)
    return None


def summary_line(event: WorkflowCompleteEvent) -> str:
    """The closing line: tasks, wall time, tokens and cost of the whole run."""
    metrics = event.result.metrics
    text = (
        f"✓ Workflow complete  {metrics.task_count} tasks · {metrics.total_latency_ms / 1000:.2f}s"
        f" · {metrics.total_tokens_in}/{metrics.total_tokens_out} tok"
    )
    if metrics.total_estimated_cost > 0:
        text += f" · ${metrics.total_estimated_cost:.4f}"
    return text


class RunView:
    """Keeps the rows of a run and shows them on ``console`` (live table or plain lines)."""

    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.rows: dict[str, TaskRow] = {}
        self._live = Live(console=console, auto_refresh=False, transient=False) if live else None

    def __enter__(self) -> RunView:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.update(self.table(), refresh=True)
            self._live.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop redrawing while someone answers a question on the terminal."""
        if self._live is None:
            yield
            return
        self._live.stop()
        try:
            yield
        finally:
            self._live.start()

    def on_event(self, event: WorkflowEvent) -> None:
        """Follow one event (called by the runner; must not raise)."""
        row = row_change(event)
        if row is not None:
            self.rows[row.name] = row
            if self._live is not None:
                self._live.update(self.table(), refresh=True)
            else:
                self.console.print(self.line(row), highlight=False)
        if isinstance(event, WorkflowCompleteEvent):
            self.console.print(Text(summary_line(event), style="bold green"), highlight=False)

    def line(self, row: TaskRow) -> Text:
        """One plain line for a row: ``  ✓ name  detail``."""
        symbol, style = STATE_MARKS[row.state]
        text = Text(f"  {symbol} ", style=style)
        text.append(row.name, style=style)
        text.append(f"  {row.state}")
        if row.detail:
            text.append(f"  {row.detail}", style="dim")
        return text

    def table(self) -> Table:
        """Every row so far, as a table."""
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        table.add_column("")
        table.add_column("task")
        table.add_column("state")
        table.add_column("detail", style="dim")
        for row in self.rows.values():
            symbol, style = STATE_MARKS[row.state]
            table.add_row(Text(symbol, style=style), row.name, Text(row.state, style), row.detail)
        return table
