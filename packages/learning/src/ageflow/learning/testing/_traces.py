"""The TraceStore half of the contract."""

from __future__ import annotations

import pytest

from ageflow.learning.models import Feedback, TraceFilter
from ageflow.learning.stores import TraceStore, UnknownTraceError
from ageflow.learning.testing._builders import at, make_trace, rich_trace


@pytest.mark.anyio
class TraceStoreContract:
    """Subclasses provide a ``trace_store`` fixture yielding a fresh, empty store."""

    async def test_is_a_trace_store(self, trace_store: TraceStore) -> None:
        assert isinstance(trace_store, TraceStore)

    async def test_rich_trace_reads_back_equal(self, trace_store: TraceStore) -> None:
        trace = rich_trace()
        await trace_store.save_trace(trace)
        assert await trace_store.get_trace(trace.id) == trace

    async def test_unknown_trace_reads_none(self, trace_store: TraceStore) -> None:
        assert await trace_store.get_trace("missing") is None
        assert list(await trace_store.traces()) == []

    async def test_save_replaces_same_id(self, trace_store: TraceStore) -> None:
        trace = make_trace()
        await trace_store.save_trace(trace)
        changed = trace.model_copy(update={"success": False, "workflow_output": {"n": 1}})
        await trace_store.save_trace(changed)
        assert list(await trace_store.traces()) == [changed]

    async def test_listing_is_newest_first_with_id_ties(self, trace_store: TraceStore) -> None:
        old = make_trace(id="b-old", run_at=at(1))
        tie_low = make_trace(id="a-tie", run_at=at(5))
        tie_high = make_trace(id="c-tie", run_at=at(5))
        for trace in (tie_low, old, tie_high):
            await trace_store.save_trace(trace)
        listed = await trace_store.traces()
        assert [t.id for t in listed] == ["c-tie", "a-tie", "b-old"]

    async def test_filters_combine(self, trace_store: TraceStore) -> None:
        liked = Feedback(rating="positive", source="human", at=at(20))
        traces = [
            make_trace(id="r1", workflow_name="report", run_at=at(1)),
            make_trace(id="r2", workflow_name="report", run_at=at(2), feedback=(liked,)),
            make_trace(id="r3", workflow_name="report", run_at=at(3)),
            make_trace(id="d1", workflow_name="digest", run_at=at(4), feedback=(liked,)),
        ]
        for trace in traces:
            await trace_store.save_trace(trace)

        async def ids(**wanted: object) -> list[str]:
            return [t.id for t in await trace_store.traces(TraceFilter.model_validate(wanted))]

        assert await ids(workflow_name="report") == ["r3", "r2", "r1"]
        assert await ids(since=at(2)) == ["d1", "r3", "r2"]
        assert await ids(has_feedback=True) == ["d1", "r2"]
        assert await ids(has_feedback=False) == ["r3", "r1"]
        assert await ids(workflow_name="report", has_feedback=False, limit=1) == ["r3"]
        assert await ids(limit=0) == []
        assert await ids(workflow_name="none") == []

    async def test_since_compares_instants_not_text(self, trace_store: TraceStore) -> None:
        # Whole seconds and fractions must order as times, whatever their text looks like.
        whole = make_trace(id="whole", run_at=at(10))
        fraction = make_trace(id="fraction", run_at=at(10).replace(microsecond=500))
        await trace_store.save_trace(whole)
        await trace_store.save_trace(fraction)
        listed = await trace_store.traces(TraceFilter(since=at(10).replace(microsecond=1)))
        assert [t.id for t in listed] == ["fraction"]

    async def test_add_feedback_appends_in_order(self, trace_store: TraceStore) -> None:
        trace = make_trace()
        await trace_store.save_trace(trace)
        first = Feedback(rating="negative", source="ci", comment="tests failed", at=at(1))
        second = Feedback(rating="positive", source="human", at=at(2))
        after_first = await trace_store.add_feedback(trace.id, first)
        assert after_first.feedback == (first,)
        after_second = await trace_store.add_feedback(trace.id, second)
        assert after_second == trace.model_copy(update={"feedback": (first, second)})
        assert await trace_store.get_trace(trace.id) == after_second
        with_feedback = await trace_store.traces(TraceFilter(has_feedback=True))
        assert [t.id for t in with_feedback] == [trace.id]

    async def test_add_feedback_unknown_raises(self, trace_store: TraceStore) -> None:
        feedback = Feedback(rating="positive", source="human")
        with pytest.raises(UnknownTraceError) as caught:
            await trace_store.add_feedback("missing", feedback)
        assert caught.value.trace_id == "missing"
        assert list(await trace_store.traces()) == []
