"""The ``.skill.md`` file: one skill record as a front-matter block and its content.

::

    ---
    id: "0b6c…"
    name: "cite-sources"
    agent: "writer"
    score: 0.8
    ...
    ---
    Cite a source for every claim.

Every field of ``SkillRecord`` except ``content`` is a ``key: value`` line of the block;
the rest of the file, byte for byte, is the content. Values are written as JSON (so a
string keeps its colons, quotes and newlines, and the block stays valid YAML); when
reading, a value that is not JSON is taken as plain text, so a hand-written
``name: cite-sources`` works (and a text field keeps ``name: 2024`` as text). The
original's camelCase keys (``targetAgent``, ``runCount``, ...) are read as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from ageflow.learning import SkillRecord

SUFFIX = ".skill.md"
FENCE = "---"

# The original's front-matter keys, read as the record's fields.
_ORIGINAL_KEYS = {
    "targetAgent": "agent",
    "targetWorkflow": "workflow",
    "parentId": "parent_id",
    "runCount": "run_count",
    "bestInLineage": "best_in_lineage",
    "createdAt": "created_at",
}
_FIELDS = tuple(name for name in SkillRecord.model_fields if name != "content")
_TEXT_FIELDS = frozenset({"id", "name", "description", "agent", "workflow", "parent_id"})


class SkillFileError(ValueError):
    """The text is not a valid ``.skill.md``; the message says where and why."""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


def file_names(skills: Sequence[SkillRecord]) -> list[str]:
    """A distinct file name for each skill: ``<name>-v<version>-<id prefix>.skill.md``.

    Only letters, digits, ``-`` and ``_`` are kept. Two skills whose names would be the
    same (ids that share their first 8 characters) get the whole id instead, and then a
    counter if even that is the same, so that no file of an export overwrites another.
    """
    names: list[str] = []
    taken: set[str] = set()
    for skill in skills:
        stem = f"{_safe(skill.name) or 'skill'}-v{skill.version}"
        candidate = f"{stem}-{_safe(skill.id[:8])}{SUFFIX}"
        if candidate in taken:
            candidate = f"{stem}-{_safe(skill.id)}{SUFFIX}"
        count = 1
        while candidate in taken:
            count += 1
            candidate = f"{stem}-{_safe(skill.id)}-{count}{SUFFIX}"
        taken.add(candidate)
        names.append(candidate)
    return names


# Characters some readers (YAML, str.splitlines) take as line ends; JSON leaves them raw.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)
    return text


def render(skill: SkillRecord) -> str:
    data = skill.model_dump(mode="json")
    lines = [f"{key}: {_json(data[key])}" for key in _FIELDS]
    return "\n".join([FENCE, *lines, FENCE, ""]) + skill.content


def parse(text: str) -> SkillRecord:
    """The skill in ``text``; SkillFileError when the block or a field is wrong."""
    # Lines end at "\n" only (a "\r" before it is dropped from the block's lines): the
    # content after the block is kept exactly as it is.
    lines = re.findall(r"[^\n]*\n|[^\n]+\Z", text)
    if not lines or lines[0].rstrip("\r\n") != FENCE:
        raise SkillFileError(f"the file does not start with a {FENCE} front-matter line")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r\n") == FENCE), None)
    if end is None:
        raise SkillFileError(f"the front-matter block has no closing {FENCE} line")
    fields: dict[str, Any] = {}
    for number, line in enumerate(lines[1:end], start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, colon, raw = stripped.partition(":")
        key = _ORIGINAL_KEYS.get(key.strip(), key.strip())
        if not colon or not key:
            raise SkillFileError(f"line {number}: expected `key: value`, found {stripped!r}")
        if key not in _FIELDS:
            raise SkillFileError(
                f"line {number}: unknown field {key!r} (known: {', '.join(_FIELDS)})"
            )
        if key in fields:
            raise SkillFileError(f"line {number}: {key!r} is given twice")
        value = _value(raw.strip(), number)
        if key in _TEXT_FIELDS and not isinstance(value, str | None):
            value = raw.strip()  # `name: 2024` is the text "2024", not a number
        fields[key] = value
    fields["content"] = "".join(lines[end + 1 :])
    try:
        return SkillRecord.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        more = len(exc.errors()) - 1
        tail = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        raise SkillFileError(f"{where}: {first['msg']}{tail}") from exc


def _value(raw: str, number: int) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        if raw.startswith('"'):
            raise SkillFileError(f"line {number}: the quoted value is not a JSON string") from None
        return raw
