"""The scoring, rollback and reflection rules, as pure functions."""

from __future__ import annotations

from ageflow.learning.config import DEFAULT_THRESHOLDS, LearningConfig, LearningThresholds
from ageflow.learning.models import ExecutionTrace, Feedback

_SIGNALS = {"positive": 1.0, "mixed": 0.5, "negative": 0.0}


def feedback_signal(feedback: Feedback) -> float:
    """The 0..1 signal a piece of feedback gives: positive 1, mixed 0.5, negative 0."""
    return _SIGNALS[feedback.rating]


def update_score(
    current: float,
    signal: float,
    *,
    delayed_feedback: bool = False,
    thresholds: LearningThresholds = DEFAULT_THRESHOLDS,
) -> float:
    """A skill's new score: an exponential moving average of the signals, kept in 0..1.

    Delayed feedback uses its own (by default heavier) weight.
    """
    alpha = thresholds.feedback_alpha if delayed_feedback else thresholds.ema_alpha
    raw = alpha * signal + (1 - alpha) * current
    return min(1.0, max(0.0, raw))


def should_rollback(
    current: float,
    best: float,
    run_count: int,
    thresholds: LearningThresholds = DEFAULT_THRESHOLDS,
) -> bool:
    """Whether a skill fell far enough below its lineage's best, on enough runs."""
    if run_count < thresholds.min_runs_before_rollback:
        return False
    return current < best - thresholds.rollback_margin


def needs_rewrite(score: float, thresholds: LearningThresholds = DEFAULT_THRESHOLDS) -> bool:
    """Whether a skill scores low enough for reflection to rewrite it."""
    return score < thresholds.reflection_threshold


def should_reflect(config: LearningConfig, trace: ExecutionTrace, run_number: int) -> bool:
    """Whether reflection runs after this trace; ``run_number`` counts from 1."""
    every = config.reflect_every
    if every == "always":
        return True
    if every == "on-failure":
        return not trace.success
    if every == "on-feedback":
        return bool(trace.feedback)
    return run_number % every == 0
