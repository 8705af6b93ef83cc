"""Which failures a retry policy may retry, and how long to wait between attempts."""

from __future__ import annotations

from ageflow.core.config import BackoffStrategy, RetryErrorKind
from ageflow.core.errors import TaskTimeoutError
from ageflow.executor.errors import OutputValidationError

# Kinds a runner may report through an exception's ``code`` attribute. Beyond the original
# (which produced only subprocess_error): runners classify rate limits and outages so that
# ``retry.on`` can name them.
_RUNNER_CODES: frozenset[str] = frozenset(
    {"subprocess_error", "rate_limit", "provider_unavailable", "timeout", "mcp_server_start_failed"}
)

MAX_BACKOFF_MS = 30_000
# A provider may ask for hours (a usage limit); a run does not sleep that long between
# attempts: it waits at most this and lets the retry policy decide what happens next.
MAX_RETRY_AFTER_MS = 60_000


def classify_agent_error(exc: BaseException) -> RetryErrorKind | None:
    """The retry kind of an agent attempt's failure; None when it must not be retried."""
    if isinstance(exc, OutputValidationError):
        return "output_validation_error"
    if isinstance(exc, TaskTimeoutError):
        return "timeout"
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in _RUNNER_CODES:
        return code  # type: ignore[return-value]
    if "subprocess" in str(exc):
        return "subprocess_error"
    return None


def classify_fn_error(exc: BaseException) -> RetryErrorKind:
    """The retry kind of a function attempt's failure."""
    return "timeout" if isinstance(exc, TaskTimeoutError) else "transient"


def backoff_ms(strategy: BackoffStrategy, failed_attempt: int) -> int:
    """Milliseconds to wait after the 0-based attempt ``failed_attempt`` failed."""
    if strategy == "exponential":
        return int(min(2**failed_attempt * 1000, MAX_BACKOFF_MS))
    if strategy == "linear":
        return failed_attempt * 1000
    return 1000


def retry_after_ms(exc: BaseException) -> int:
    """A wait the failure itself asks for (an HTTP Retry-After), 0 when none."""
    seconds = getattr(exc, "retry_after_s", None)
    if isinstance(seconds, (int, float)) and seconds > 0:
        return min(int(seconds * 1000), MAX_RETRY_AFTER_MS)
    return 0
