from __future__ import annotations

import pytest

from ageflow.learning import (
    DEFAULT_CONFIG,
    DEFAULT_THRESHOLDS,
    Feedback,
    LearningConfig,
    LearningThresholds,
    feedback_signal,
    needs_rewrite,
    should_reflect,
    should_rollback,
    update_score,
)
from ageflow.learning.testing import make_trace


def test_defaults_match_the_original() -> None:
    assert DEFAULT_THRESHOLDS.reflection_threshold == 0.7
    assert DEFAULT_THRESHOLDS.rollback_margin == 0.15
    assert DEFAULT_THRESHOLDS.min_runs_before_rollback == 3
    assert DEFAULT_THRESHOLDS.ema_alpha == 0.3
    assert DEFAULT_THRESHOLDS.feedback_alpha == 0.5
    assert DEFAULT_CONFIG.strategy == "autonomous"
    assert DEFAULT_CONFIG.reflect_every == "always"


def test_update_score_is_a_moving_average() -> None:
    assert update_score(0.5, 1.0) == pytest.approx(0.65)
    assert update_score(0.5, 0.0) == pytest.approx(0.35)
    assert update_score(0.5, 1.0, delayed_feedback=True) == pytest.approx(0.75)
    custom = LearningThresholds(ema_alpha=1.0)
    assert update_score(0.2, 0.9, thresholds=custom) == pytest.approx(0.9)


def test_update_score_stays_in_range() -> None:
    assert update_score(1.0, 5.0) == 1.0
    assert update_score(0.0, -3.0) == 0.0


def test_rollback_needs_enough_runs_and_a_real_drop() -> None:
    assert should_rollback(0.5, 0.9, run_count=2) is False
    assert should_rollback(0.5, 0.9, run_count=3) is True
    # Exactly at the margin is not below it.
    assert should_rollback(0.75, 0.9, run_count=10) is False
    assert should_rollback(0.74, 0.9, run_count=10) is True
    lenient = LearningThresholds(rollback_margin=0.5, min_runs_before_rollback=0)
    assert should_rollback(0.5, 0.9, run_count=0, thresholds=lenient) is False


def test_needs_rewrite_below_threshold() -> None:
    assert needs_rewrite(0.69) is True
    assert needs_rewrite(0.7) is False


def test_feedback_signal() -> None:
    assert [
        feedback_signal(Feedback(rating=r, source="human"))
        for r in ("positive", "mixed", "negative")
    ] == [1.0, 0.5, 0.0]


def test_should_reflect_by_policy() -> None:
    ok = make_trace(success=True)
    failed = make_trace(success=False)
    rated = make_trace(feedback=(Feedback(rating="positive", source="ci"),))
    assert should_reflect(LearningConfig(reflect_every="always"), ok, 1)
    on_failure = LearningConfig(reflect_every="on-failure")
    assert not should_reflect(on_failure, ok, 1) and should_reflect(on_failure, failed, 1)
    on_feedback = LearningConfig(reflect_every="on-feedback")
    assert not should_reflect(on_feedback, ok, 1) and should_reflect(on_feedback, rated, 1)
    every_third = LearningConfig(reflect_every=3)
    assert [should_reflect(every_third, ok, n) for n in range(1, 7)] == [
        False,
        False,
        True,
        False,
        False,
        True,
    ]


@pytest.mark.parametrize("bad", [0, -1])
def test_reflect_every_number_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="reflect_every"):
        LearningConfig(reflect_every=bad)


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError):
        LearningThresholds(ema_alpha=0)
    with pytest.raises(ValueError):
        LearningThresholds(rollback_margin=1.5)
