"""Promotion: activate candidates that proved themselves, roll back skills that fell.

No LLM, as in the original. For every skill, oldest first:

- an active skill is rolled back when ``should_rollback`` holds against the best version
  of its lineage (it fell more than the margin below it, after enough runs): it becomes
  ``rolled-back`` and the best version becomes active again;
- a candidate whose trial is over (at least ``min_runs_before_rollback`` scored runs) is
  promoted when it scores at least the reflection threshold and the rollback rule would
  not withdraw it at once; the agent's active skill for the same workflow is retired. A
  candidate that fails either test is rolled back (the active skill stays).

Each change is a ``PromotionAction``; a skill left as it is counts as a no-op.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ageflow.core.workflow import WorkflowDef
from ageflow.learning._one_step import NoInput, one_step_workflow, run_step
from ageflow.learning.config import DEFAULT_CONFIG, LearningConfig
from ageflow.learning.models import SkillRecord, SkillStatus
from ageflow.learning.scoring import needs_rewrite, should_rollback
from ageflow.learning.stores import SkillStore

__all__ = [
    "PROMOTION_WORKFLOW_NAME",
    "PromotionAction",
    "PromotionSummary",
    "promotion_workflow",
    "run_promotion",
]

PROMOTION_WORKFLOW_NAME = "__ageflow_promotion"


class PromotionAction(BaseModel):
    """One change: ``activated_skill_id`` is active afterwards (None when the agent is left
    with no active skill), ``retired_skill_id`` was withdrawn or replaced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["promote", "rollback"]
    retired_skill_id: str | None
    activated_skill_id: str | None
    reason: str


class PromotionSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    skills_checked: int
    rollbacks: int
    noops: int
    actions: list[PromotionAction]


async def _rollback_active(
    store: SkillStore, skill: SkillRecord, config: LearningConfig
) -> PromotionAction | None:
    thresholds = config.thresholds
    best = await store.best_in_lineage(skill.id)
    if best is None or best.id == skill.id:
        return None
    if not should_rollback(skill.score, best.score, skill.run_count, thresholds):
        return None
    await store.set_status(skill.id, SkillStatus.ROLLED_BACK)
    await store.set_status(best.id, SkillStatus.ACTIVE)
    return PromotionAction(
        kind="rollback",
        retired_skill_id=skill.id,
        activated_skill_id=best.id,
        reason=(
            f"score {skill.score:.3f} fell more than {thresholds.rollback_margin} below the "
            f"best of its lineage ({best.name} v{best.version}, {best.score:.3f}) after "
            f"{skill.run_count} runs"
        ),
    )


async def _judge_candidate(
    store: SkillStore, skill: SkillRecord, config: LearningConfig
) -> PromotionAction | None:
    thresholds = config.thresholds
    if skill.run_count < max(1, thresholds.min_runs_before_rollback):
        return None  # still on trial
    incumbent = await store.active_for(skill.agent, skill.workflow)
    if incumbent is not None and incumbent.workflow != skill.workflow:
        incumbent = None
    best = await store.best_in_lineage(skill.id)
    best_score = best.score if best is not None else skill.score
    if needs_rewrite(skill.score, thresholds) or should_rollback(
        skill.score, best_score, skill.run_count, thresholds
    ):
        await store.set_status(skill.id, SkillStatus.ROLLED_BACK)
        return PromotionAction(
            kind="rollback",
            retired_skill_id=skill.id,
            activated_skill_id=incumbent.id if incumbent is not None else None,
            reason=(
                f"candidate scored {skill.score:.3f} after {skill.run_count} trial runs: below "
                f"the threshold {thresholds.reflection_threshold} or more than "
                f"{thresholds.rollback_margin} below its lineage's best ({best_score:.3f})"
            ),
        )
    if incumbent is not None:
        await store.set_status(incumbent.id, SkillStatus.RETIRED)
    await store.set_status(skill.id, SkillStatus.ACTIVE)
    return PromotionAction(
        kind="promote",
        retired_skill_id=incumbent.id if incumbent is not None else None,
        activated_skill_id=skill.id,
        reason=(
            f"candidate scored {skill.score:.3f} after {skill.run_count} trial runs (threshold "
            f"{thresholds.reflection_threshold})"
        ),
    )


def promotion_workflow(
    *, skill_store: SkillStore, config: LearningConfig = DEFAULT_CONFIG
) -> WorkflowDef:
    """The promotion as a workflow: one function task, ``promote``, whose output is the
    PromotionSummary."""

    async def promote(_: NoInput) -> PromotionSummary:
        actions: list[PromotionAction] = []
        checked = 0
        # Active skills first, so that a skill promoted in this pass is not judged again.
        skills = list(await skill_store.list_skills())
        for status, judge in (
            (SkillStatus.ACTIVE, _rollback_active),
            (SkillStatus.CANDIDATE, _judge_candidate),
        ):
            for listed in skills:
                skill = await skill_store.get(listed.id)
                if skill is None or listed.status is not status or skill.status is not status:
                    continue
                checked += 1
                action = await judge(skill_store, skill, config)
                if action is not None:
                    actions.append(action)
        rollbacks = sum(action.kind == "rollback" for action in actions)
        return PromotionSummary(
            skills_checked=checked,
            rollbacks=rollbacks,
            noops=checked - len(actions),
            actions=actions,
        )

    return one_step_workflow(
        name=PROMOTION_WORKFLOW_NAME,
        description="Activate proven candidates and roll back skills that fell",
        step="promote",
        execute=promote,
        output=PromotionSummary,
    )


async def run_promotion(
    *, skill_store: SkillStore, config: LearningConfig = DEFAULT_CONFIG
) -> PromotionSummary:
    """One promotion and rollback pass over every skill (see the module's rules)."""
    workflow = promotion_workflow(skill_store=skill_store, config=config)
    return await run_step(workflow, "promote", PromotionSummary)
