"""Publish a release note: no LLM, no network, only plain functions.

    normalise -> tighten (loop: shorten) -> render -> publish (asks "Publish this note?")

The loop shortens the summary one edit at a time until it fits the word limit: first it
removes filler words, then drops trailing sentences, and at last cuts to the limit. Each
edit is recorded, so the output shows how many passes the loop needed. ``render`` waits
``delay_seconds`` before it finishes, which gives a demo time to kill the server while a job
is in flight; ``publish`` waits for a human to approve.

The same input always gives the same output.
"""

import re

import anyio
from pydantic import BaseModel, Field

from ageflow.core import (
    Checkpoint,
    TaskContext,
    define_function,
    define_workflow,
    loop,
    task,
)

FILLER_WORDS = frozenset(
    {"very", "really", "just", "basically", "actually", "quite", "simply", "literally"}
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Three edits always suffice: the last one cuts the summary to the limit.
MAX_PASSES = 3


class NoteRequest(BaseModel):
    """What the caller sends: the workflow's input (and the MCP tool's arguments)."""

    title: str = Field(min_length=1, max_length=120, pattern=r"\S", description="Note title")
    text: str = Field(
        min_length=1, max_length=20_000, pattern=r"\S", description="What changed, in prose"
    )
    max_words: int = Field(default=25, ge=5, le=200, description="Word limit of the summary")
    delay_seconds: float = Field(
        default=0, ge=0, le=30, description="Seconds the render step waits (for demos)"
    )


class Draft(BaseModel):
    """A note on its way: the summary so far, its limit, and the edits made to it."""

    title: str
    summary: str
    max_words: int
    delay_seconds: float
    edits: list[str] = Field(default_factory=list)


class ReleaseNote(BaseModel):
    """The published note: the workflow's output (and the MCP tool's result)."""

    title: str
    summary: str
    words: int
    edits: list[str]


# --- text helpers (pure, so every run of the same input gives the same note) --------------


def collapse(text: str) -> str:
    return " ".join(text.split())


def word_count(text: str) -> int:
    return len(text.split())


def without_fillers(text: str, max_words: int) -> str:
    words = text.split()
    kept: list[str] = []
    capitalise_next = False
    for index, word in enumerate(words):
        starts_sentence = index == 0 or words[index - 1][-1] in ".!?"
        # A filler that ends a sentence is kept: dropping it would lose the full stop.
        if word.lower().rstrip(",;") in FILLER_WORDS:
            capitalise_next = capitalise_next or starts_sentence
            continue
        if capitalise_next:
            word = word[:1].upper() + word[1:]
            capitalise_next = False
        kept.append(word)
    return " ".join(kept)


def without_trailing_sentences(text: str, max_words: int) -> str:
    sentences = SENTENCE_END.split(text)
    while len(sentences) > 1 and word_count(" ".join(sentences)) > max_words:
        sentences.pop()
    return " ".join(sentences)


def cut_to_limit(text: str, max_words: int) -> str:
    words = text.split()[:max_words]
    words[-1] = words[-1].rstrip(",;:.!?") + "…"
    return " ".join(words)


EDITS = (
    (without_fillers, "removed filler words"),
    (without_trailing_sentences, "dropped trailing sentences"),
    (cut_to_limit, "cut to the word limit"),
)


# --- tasks ---------------------------------------------------------------------------------


@define_function(input=NoteRequest, output=Draft)
def normalise(request: NoteRequest) -> Draft:
    text = collapse(request.text)
    if text[-1] not in ".!?":
        text += "."
    return Draft(
        title=collapse(request.title),
        summary=text,
        max_words=request.max_words,
        delay_seconds=request.delay_seconds,
    )


@define_function(input=Draft, output=Draft)
def shorten(draft: Draft) -> Draft:
    """One pass of the loop: the first edit that changes an over-long summary."""
    if word_count(draft.summary) <= draft.max_words:
        return draft
    for edit, label in EDITS:
        shorter = edit(draft.summary, draft.max_words)
        if shorter != draft.summary:
            return draft.model_copy(update={"summary": shorter, "edits": [*draft.edits, label]})
    return draft


@define_function(input=Draft, output=ReleaseNote)
async def render(draft: Draft) -> ReleaseNote:
    # Stands in for slow work (a link checker, a rendering service); a job sits here for
    # delay_seconds, long enough for a demo to kill the server mid-task.
    await anyio.sleep(draft.delay_seconds)
    return ReleaseNote(
        title=draft.title,
        summary=draft.summary,
        words=word_count(draft.summary),
        edits=draft.edits,
    )


@define_function(input=ReleaseNote, output=ReleaseNote)
def publish(note: ReleaseNote) -> ReleaseNote:
    # A real workflow would post the note to a changelog here, after approval.
    return note


def draft_to_shorten(ctx: TaskContext) -> Draft:
    """The first pass shortens the normalised draft; each later one, the previous result."""
    if ctx.feedback is None:
        draft: Draft = ctx["normalise"].output
    else:
        draft = ctx.feedback["shorten"].output
    return draft


def fits(ctx: TaskContext) -> bool:
    draft: Draft = ctx["shorten"].output
    return word_count(draft.summary) <= draft.max_words


def tightened(ctx: TaskContext) -> Draft:
    draft: Draft = ctx["tighten"].output["shorten"].output
    return draft


workflow = define_workflow(
    name="release_note",
    description="Tighten a release note to a word limit and publish it after approval.",
    tasks={
        "normalise": task(normalise),  # the root: receives the workflow input
        "tighten": loop(
            tasks={"shorten": task(shorten, input=draft_to_shorten)},
            max=MAX_PASSES,
            until=fits,
            depends_on=["normalise"],
        ),
        "render": task(render, depends_on=["tighten"], input=tightened),
        "publish": task(
            publish,
            depends_on=["render"],
            input=lambda ctx: ctx["render"].output,
            hitl=Checkpoint("Publish this note?"),
        ),
    },
)
