"""The ``.skill.md`` format: any skill record survives being written and read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ageflow.cli.skill_file import SkillFileError, file_names, parse, render
from ageflow.learning import SkillRecord, SkillStatus

# Text with what a naive front-matter format trips on: colons, quotes, newlines, "---".
tricky = st.text(
    alphabet=st.sampled_from(list("ab :\"'\\#\n\r\t-é✓{}[]")) | st.characters(),
    max_size=40,
)
ids = st.text(alphabet="abc-/ 1", min_size=1, max_size=12)

skills = st.builds(
    SkillRecord,
    id=ids,
    name=tricky,
    description=tricky,
    content=tricky | st.just("line\n---\nafter the fence\n"),
    agent=tricky,
    workflow=st.none() | tricky,
    version=st.integers(0, 10**6),
    parent_id=st.none() | ids,
    status=st.sampled_from(SkillStatus),
    score=st.floats(0, 1),
    run_count=st.integers(0, 10**9),
    best_in_lineage=st.booleans(),
    created_at=st.datetimes(timezones=st.just(UTC)),
)


@given(skills)
def test_render_then_parse_gives_the_same_record(skill: SkillRecord) -> None:
    assert parse(render(skill)) == skill


@given(st.lists(skills, max_size=8))
def test_every_skill_of_an_export_gets_its_own_file_name(batch: list[SkillRecord]) -> None:
    names = file_names(batch)
    assert len(set(names)) == len(batch)
    for name in names:
        assert name.endswith(".skill.md")
        assert "/" not in name and " " not in name


def test_ids_sharing_their_first_eight_characters_get_the_whole_id() -> None:
    one = SkillRecord(id="writer-cite-a", name="cite", content="x", agent="w")
    two = one.model_copy(update={"id": "writer-cite-b"})
    three = one.model_copy(update={"id": "writer/cite/b"})  # the same once made safe
    assert file_names([one, two, three]) == [
        "cite-v0-writer-c.skill.md",
        "cite-v0-writer-cite-b.skill.md",
        "cite-v0-writer-cite-b-2.skill.md",
    ]


def test_a_file_with_crlf_line_ends_is_read_and_its_content_kept() -> None:
    text = '---\r\nname: "cite"\r\nagent: writer\r\nscore: 0.9\r\n---\r\nCite.\r\n'
    skill = parse(text)
    assert (skill.name, skill.agent, skill.score, skill.content) == (
        "cite", "writer", 0.9, "Cite.\r\n",
    )  # fmt: skip


def test_comments_and_blank_lines_in_the_block_are_skipped() -> None:
    skill = parse(
        "---\n# from the review\n\nname: cite\nagent: writer\n"
        'created_at: "2026-01-02T03:04:05+02:00"\n---\n'
    )
    assert skill.content == ""
    assert skill.created_at == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "does not start with a --- front-matter line"),
        ("---\nname: x\nagent: y\n", "no closing --- line"),
        ("---\n: value\n---\n", "line 2: expected `key: value`"),
        ("---\nname: x\nagent: y\nversion: -1\n---\n", "version: Input should be greater"),
        ("---\nname: x\nagent: y\ncreated_at: 2026-01-02T03:04:05\n---\n", "created_at:"),
        ("---\nagent: y\nrunCount: many\n---\n", "name: Field required (and 1 more error)"),
    ],
)
def test_a_bad_file_names_the_line_or_field(text: str, message: str) -> None:
    with pytest.raises(SkillFileError) as caught:
        parse(text)
    assert message in str(caught.value)


def test_a_bare_number_or_boolean_in_a_text_field_stays_text() -> None:
    skill = parse("---\nname: 2024\nagent: true\ndescription: 1.5\nversion: 2\n---\n")
    assert (skill.name, skill.agent, skill.description, skill.version) == (
        "2024", "true", "1.5", 2,
    )  # fmt: skip
