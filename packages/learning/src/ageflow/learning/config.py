"""The skill layer's settings, with the TypeScript original's defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ReflectEvery = Literal["always", "on-failure", "on-feedback"] | int


class LearningThresholds(BaseModel):
    """The numbers the scoring and rollback rules use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A skill scoring below this is rewritten by reflection.
    reflection_threshold: float = Field(default=0.7, ge=0, le=1)
    # How far below its lineage's best a skill may fall before it is rolled back.
    rollback_margin: float = Field(default=0.15, ge=0, le=1)
    # Too few runs say nothing about a skill: no rollback before this many.
    min_runs_before_rollback: int = Field(default=3, ge=0)
    # Weight of a new signal in the score's moving average.
    ema_alpha: float = Field(default=0.3, gt=0, le=1)
    # Weight of delayed feedback: heavier, since a person or CI judged the outcome.
    feedback_alpha: float = Field(default=0.5, gt=0, le=1)


class LearningConfig(BaseModel):
    """How the skill layer learns: who approves, how often to reflect, the thresholds.

    ``reflect_every`` is ``"always"``, ``"on-failure"``, ``"on-feedback"`` or a number n
    (reflect on every n-th run).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Literal["autonomous", "hitl"] = "autonomous"
    reflect_every: ReflectEvery = "always"
    thresholds: LearningThresholds = Field(default_factory=LearningThresholds)

    def model_post_init(self, __context: object) -> None:
        if isinstance(self.reflect_every, int) and self.reflect_every < 1:
            raise ValueError("reflect_every must be at least 1 when it is a number")


DEFAULT_THRESHOLDS = LearningThresholds()
DEFAULT_CONFIG = LearningConfig()
