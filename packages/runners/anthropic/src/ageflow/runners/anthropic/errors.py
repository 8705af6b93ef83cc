"""Errors of the Anthropic runner, classified for the executor's retry policy.

Each HTTP failure carries a ``code`` that ``retry.on`` can name: ``rate_limit`` for 429,
``provider_unavailable`` for 529 (overloaded) and other 5xx; a refused key, a bad request
and any other status are typed too but never retried. Unreachable servers and requests
past their deadline reuse the API runner's ``ApiConnectionError`` / ``ApiTimeoutError``.
"""

from __future__ import annotations

from typing import ClassVar

import anthropic
from ageflow.core.errors import AgentFlowError
from ageflow.runners.api.errors import (
    ApiConnectionError,
    ApiRequestError,
    ApiTimeoutError,
    parse_retry_after,
)

__all__ = [
    "AnthropicAuthenticationError",
    "AnthropicBadRequestError",
    "AnthropicNotConfiguredError",
    "AnthropicOverloadedError",
    "AnthropicProviderUnavailableError",
    "AnthropicRateLimitError",
    "AnthropicRequestError",
    "anthropic_request_error",
    "from_sdk_error",
]


class AnthropicRequestError(ApiRequestError):
    """The Messages API answered with a non-2xx status, or a 2xx body that is unusable.

    An ``ApiRequestError`` (status, body, retry_after_s, the shortened body in the message),
    so code that handles the API runner's HTTP errors handles these too.
    """

    code: ClassVar[str] = "anthropic_request_failed"

    def __init__(
        self, status: int, body: str, *, retry_after_s: float | None = None, cause: object = None
    ) -> None:
        super().__init__(status, body, retry_after_s=retry_after_s, cause=cause)
        self.message = f"Anthropic {self.message}"
        self.args = (self.message,)


class AnthropicRateLimitError(AnthropicRequestError):
    """HTTP 429: retryable as ``rate_limit``; ``retry_after_s`` holds the server's wish."""

    code: ClassVar[str] = "rate_limit"


class AnthropicOverloadedError(AnthropicRequestError):
    """HTTP 529 (``overloaded_error``): retryable as ``provider_unavailable``."""

    code: ClassVar[str] = "provider_unavailable"


class AnthropicProviderUnavailableError(AnthropicRequestError):
    """HTTP 5xx other than 529: retryable as ``provider_unavailable``."""

    code: ClassVar[str] = "provider_unavailable"


class AnthropicAuthenticationError(AnthropicRequestError):
    """HTTP 401/403: the key is missing, wrong or lacks permission. Never retried."""

    code: ClassVar[str] = "anthropic_auth_failed"


class AnthropicBadRequestError(AnthropicRequestError):
    """HTTP 400/404/413/422: the request itself is wrong (model, size, schema). Never retried."""

    code: ClassVar[str] = "anthropic_bad_request"


class AnthropicNotConfiguredError(AgentFlowError):
    """No API key was given and ``ANTHROPIC_API_KEY`` is not set."""

    code: ClassVar[str] = "anthropic_not_configured"

    def __init__(self, *, cause: object = None) -> None:
        super().__init__(
            "AnthropicRunner: no API key; pass api_key= or set ANTHROPIC_API_KEY", cause=cause
        )


def anthropic_request_error(
    status: int, body: str, retry_after: str | None = None, *, cause: object = None
) -> AnthropicRequestError:
    """The typed error for a non-2xx response, chosen by status."""
    retry_after_s = parse_retry_after(retry_after)
    cls: type[AnthropicRequestError] = AnthropicRequestError
    if status == 429:
        cls = AnthropicRateLimitError
    elif status == 529:
        cls = AnthropicOverloadedError
    elif 500 <= status <= 599:
        cls = AnthropicProviderUnavailableError
    elif status in (401, 403):
        cls = AnthropicAuthenticationError
    elif status in (400, 404, 413, 422):
        cls = AnthropicBadRequestError
    return cls(status, body, retry_after_s=retry_after_s, cause=cause)


def _body_text(exc: anthropic.APIStatusError) -> str:
    try:
        return exc.response.text
    except Exception:  # an undecodable error body must not hide the status
        return str(exc.body or "")


def from_sdk_error(exc: anthropic.APIError, url: str, timeout_s: float) -> AgentFlowError:
    """Our typed error for one the SDK raised (its own retries are off, ours decide)."""
    if isinstance(exc, anthropic.APIStatusError):
        return anthropic_request_error(
            exc.status_code,
            _body_text(exc),
            exc.response.headers.get("retry-after"),
            cause=exc,
        )
    if isinstance(exc, anthropic.APITimeoutError):  # a subclass of APIConnectionError
        return ApiTimeoutError(url, timeout_s, cause=exc)
    if isinstance(exc, anthropic.APIConnectionError):
        reason = str(exc.__cause__ or exc) or type(exc).__name__
        return ApiConnectionError(url, reason, cause=exc)
    # APIResponseValidationError and the like: a 2xx the SDK could not read.
    return AnthropicRequestError(200, f"unusable response: {exc}", cause=exc)
