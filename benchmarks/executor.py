"""Executor overhead per task: ageflow vs LangGraph on the same graph shapes.

Shapes: a chain of N no-op tasks (each depends on the previous) and N independent tasks.
ageflow runs function tasks (no LLM); LangGraph runs a StateGraph of increment nodes with
no checkpointer. Each figure is the best of several runs, in microseconds per task.

Run: hatch run bench:executor   (or: python benchmarks/executor.py --repeat 5)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from peers import best_of, langgraph_increment_graph

from ageflow.core import define_function, define_workflow, task
from ageflow.executor import WorkflowExecutor

SIZES = (100, 1000)


def ageflow_workflow(shape: str, n: int) -> Any:
    noop = define_function(lambda x: x, input=Any, output=Any, name="noop")
    tasks: dict[str, Any] = {}
    for i in range(n):
        depends = [f"t{i - 1}"] if shape == "chain" and i else []
        tasks[f"t{i}"] = task(noop, depends_on=depends, input=i)
    return define_workflow(name=f"{shape}{n}", tasks=tasks)


async def time_ageflow(shape: str, n: int) -> float:
    workflow = ageflow_workflow(shape, n)
    started = time.perf_counter()
    result = await WorkflowExecutor(workflow).run()
    elapsed = time.perf_counter() - started
    assert len(result.outputs) == n
    return elapsed


def langgraph_timer(shape: str, n: int) -> Callable[[], Awaitable[float]] | None:
    graph = langgraph_increment_graph(shape, n)
    if graph is None:
        return None
    app = graph.compile()

    async def run() -> float:
        started = time.perf_counter()
        state = await app.ainvoke({"count": 0}, {"recursion_limit": n + 10})
        elapsed = time.perf_counter() - started
        assert state["count"] == n
        return elapsed

    return run


async def main(repeat: int) -> None:
    rows = []
    for shape in ("chain", "independent"):
        for n in SIZES:
            ours = await best_of(repeat, lambda s=shape, k=n: time_ageflow(s, k)) / n * 1e6
            peer_run = langgraph_timer(shape, n)
            peer = (await best_of(repeat, peer_run) / n * 1e6) if peer_run else None
            rows.append((shape, n, ours, peer))
    print("| shape | tasks | ageflow us/task | LangGraph us/task | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for shape, n, ours, peer in rows:
        peer_text = f"{peer:.1f}" if peer is not None else "not installed"
        ratio = f"{peer / ours:.1f}x" if peer is not None else "-"
        print(f"| {shape} | {n} | {ours:.1f} | {peer_text} | {ratio} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    anyio.run(main, parser.parse_args().repeat)
