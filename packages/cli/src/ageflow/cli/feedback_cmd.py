"""``ageflow feedback TRACE_ID --rating ...``: a judgement of a run, given after it ended.

The feedback is appended to the run's trace in the learning store, where reflection
reads it; the trace must already be there (the learning hooks record every run).
"""

from __future__ import annotations

from typing import Annotated, get_args

import typer

from ageflow.cli.errors import CliError
from ageflow.cli.learn_store import DEFAULT_LEARNING_DB, LearningDb, with_learning_db
from ageflow.cli.output import print_json
from ageflow.learning import ExecutionTrace, Feedback, UnknownTraceError
from ageflow.learning_sqlite import LearningDatabase

RATINGS: tuple[str, ...] = get_args(Feedback.model_fields["rating"].annotation)
SOURCES: tuple[str, ...] = get_args(Feedback.model_fields["source"].annotation)


def _one_of(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise CliError(f"{flag} must be one of: {' | '.join(allowed)}, got: {value!r}")


def feedback(
    trace_id: Annotated[
        str, typer.Argument(metavar="TRACE_ID", help="The run's trace id.", show_default=False)
    ],
    rating: Annotated[
        str,
        typer.Option("--rating", metavar="RATING", help=f"One of: {' | '.join(RATINGS)}."),
    ],
    comment: Annotated[
        str | None, typer.Option("--comment", metavar="TEXT", help="What was good or bad.")
    ] = None,
    source: Annotated[
        str,
        typer.Option("--source", metavar="SOURCE", help=f"Who judged: {' | '.join(SOURCES)}."),
    ] = "human",
    db: LearningDb = DEFAULT_LEARNING_DB,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the trace's id and all its feedback as JSON.")
    ] = False,
) -> None:
    """Add delayed feedback to a workflow run's trace."""
    _one_of("--rating", rating, RATINGS)
    _one_of("--source", source, SOURCES)
    given = Feedback.model_validate({"rating": rating, "source": source, "comment": comment})

    async def add(store: LearningDatabase) -> ExecutionTrace:
        try:
            return await store.traces.add_feedback(trace_id, given)
        except UnknownTraceError:
            raise CliError(f'no trace "{trace_id}" in {db}') from None

    trace = with_learning_db(db, add)
    if as_json:
        print_json(
            {
                "trace_id": trace.id,
                "workflow_name": trace.workflow_name,
                "feedback": [f.model_dump(mode="json") for f in trace.feedback],
            }
        )
        return
    typer.echo(
        f"Feedback recorded for trace {trace_id}: {rating} (source: {source}); "
        f"it has {len(trace.feedback)} feedback entr{'y' if len(trace.feedback) == 1 else 'ies'}"
    )


def register(app: typer.Typer) -> None:
    app.command("feedback")(feedback)
