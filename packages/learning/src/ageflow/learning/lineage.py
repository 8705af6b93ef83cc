"""Lineage and ordering rules shared by every store, so that all answer alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ageflow.learning.models import SkillRecord


def rank_key(skill: SkillRecord) -> tuple[float, int, float, str]:
    """Sort key for "best first": higher score, then newer version, then newer, then id."""
    return (-skill.score, -skill.version, -skill.created_at.timestamp(), skill.id)


def best_of(skills: Iterable[SkillRecord]) -> SkillRecord | None:
    ordered = sorted(skills, key=rank_key)
    return ordered[0] if ordered else None


def lineage_of(skills: Mapping[str, SkillRecord], skill_id: str) -> list[SkillRecord]:
    """Every version sharing a root with ``skill_id``: up the parents to the root, then
    all of the root's descendants. A parent that is gone ends the walk up (its id is
    then the root), and a cycle of parents cannot loop forever."""
    if skill_id not in skills:
        return []
    root = skill_id
    seen = {root}
    while (parent := skills[root].parent_id) is not None and parent not in seen:
        seen.add(parent)
        root = parent
        if parent not in skills:
            break
    children: dict[str, list[str]] = {}
    for skill in skills.values():
        if skill.parent_id is not None:
            children.setdefault(skill.parent_id, []).append(skill.id)
    members: set[str] = set()
    pending = [root]
    while pending:
        current = pending.pop()
        if current in members:
            continue
        members.add(current)
        pending.extend(children.get(current, ()))
    return [skills[m] for m in members if m in skills]
