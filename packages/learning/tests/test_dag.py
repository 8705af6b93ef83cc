from __future__ import annotations

import pytest
from pydantic import BaseModel

from ageflow.core import WorkflowDef, define_agent, define_workflow, task
from ageflow.learning import dependency_map, downstream_of, downstream_tasks


class Text(BaseModel):
    text: str


AGENT = define_agent(runner="scripted", input=Text, output=Text, prompt=lambda i: i.text)


def _workflow() -> WorkflowDef:
    # research -> outline -> draft -> review; research -> facts -> review; lone.
    return define_workflow(
        name="report",
        tasks={
            "research": task(AGENT),
            "outline": task(AGENT, depends_on=["research"]),
            "facts": task(AGENT, depends_on=["research"]),
            "draft": task(AGENT, depends_on=["outline"]),
            "review": task(AGENT, depends_on=["draft", "facts"]),
            "lone": task(AGENT),
        },
    )


def test_downstream_follows_every_path() -> None:
    workflow = _workflow()
    assert downstream_tasks(workflow, "research") == {"outline", "facts", "draft", "review"}
    assert downstream_tasks(workflow, "outline") == {"draft", "review"}
    assert downstream_tasks(workflow, "facts") == {"review"}
    assert downstream_tasks(workflow, "review") == frozenset()
    assert downstream_tasks(workflow, "lone") == frozenset()


def test_dependency_map_reads_the_workflow() -> None:
    assert dependency_map(_workflow())["review"] == ("draft", "facts")


def test_unknown_task_is_refused() -> None:
    with pytest.raises(KeyError, match="no task 'missing'"):
        downstream_tasks(_workflow(), "missing")


def test_downstream_of_plain_mapping_tolerates_cycles() -> None:
    assert downstream_of({"a": [], "b": ["a"], "c": ["b", "d"], "d": ["c"]}, "a") == {
        "b",
        "c",
        "d",
    }
