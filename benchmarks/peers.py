"""Pieces the benchmark scripts share: best-of timing and the LangGraph peer graph."""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypedDict


async def best_of(repeat: int, measure: Callable[[], Awaitable[float]]) -> float:
    """The fastest of ``repeat`` measurements, after one warm-up (imports, caches, files)."""
    await measure()
    return min([await measure() for _ in range(repeat)])


def langgraph_increment_graph(shape: str, n: int) -> Any | None:
    """LangGraph's StateGraph of ``n`` increment nodes, as a ``chain`` or ``independent``
    fan-out, not compiled; None when LangGraph is not installed."""
    try:
        from langgraph.graph import END, START, StateGraph
    except ImportError:
        return None

    class State(TypedDict):
        count: Annotated[int, operator.add]

    def increment(_state: State) -> dict[str, int]:
        return {"count": 1}

    graph = StateGraph(State)
    for i in range(n):
        graph.add_node(f"t{i}", increment)
    if shape == "chain":
        graph.add_edge(START, "t0")
        for i in range(1, n):
            graph.add_edge(f"t{i - 1}", f"t{i}")
        graph.add_edge(f"t{n - 1}", END)
    else:
        for i in range(n):
            graph.add_edge(START, f"t{i}")
            graph.add_edge(f"t{i}", END)
    return graph
