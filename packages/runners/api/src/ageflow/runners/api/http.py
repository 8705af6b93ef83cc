"""The HTTP side: endpoint URLs, headers, and one deadline-bound request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import httpx

from ageflow.core.wire import compact_json
from ageflow.runners.api.errors import (
    ApiConnectionError,
    ApiRequestError,
    ApiTimeoutError,
    api_request_error,
)

__all__ = ["build_headers", "endpoint_url", "request_json"]


def endpoint_url(base_url: str, path: str) -> str:
    """``base_url`` + ``path``, with the path placed before any query string.

    Deviation from the original (which concatenated naively): a base URL such as Azure's
    ``https://x/openai/deployments/d?api-version=2024-02-01`` keeps its query at the end.
    """
    base, sep, query = base_url.partition("?")
    url = base.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{query}" if sep else url


def build_headers(api_key: str, extra: Mapping[str, str], *, json_body: bool) -> httpx.Headers:
    """Request headers: content type (for a body), the bearer token, then ``extra``.

    Any ``authorization`` key in ``extra`` (any case) is dropped, so configured headers can
    never replace or duplicate the runner's own credential.
    """
    headers = httpx.Headers()
    if json_body:
        headers["content-type"] = "application/json"
    headers["authorization"] = f"Bearer {api_key}"
    for key, value in extra.items():
        if key.lower() != "authorization":
            headers[key] = value
    return headers


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: httpx.Headers,
    body: Any | None,
    timeout_s: float,
) -> Any:
    """Send one request and return the decoded JSON body.

    One deadline covers connect, send and reading the body (httpx's own timeouts are per
    phase). Raises the classified :class:`ApiRequestError` for a non-2xx status,
    :class:`ApiTimeoutError` past the deadline and :class:`ApiConnectionError` when the
    server cannot be reached.
    """
    content = None if body is None else compact_json(body).encode()
    try:
        with anyio.fail_after(timeout_s):
            response = await client.request(method, url, headers=headers, content=content)
            try:
                if response.is_success:
                    return response.json()
                try:
                    text = response.text
                except Exception:  # an undecodable error body must not hide the status
                    text = ""
                raise api_request_error(
                    response.status_code, text, response.headers.get("retry-after")
                )
            finally:
                await response.aclose()
    except TimeoutError as exc:
        raise ApiTimeoutError(url, timeout_s, cause=exc) from exc
    except httpx.TimeoutException as exc:
        raise ApiTimeoutError(url, timeout_s, cause=exc) from exc
    except httpx.TransportError as exc:
        raise ApiConnectionError(url, str(exc) or type(exc).__name__, cause=exc) from exc
    except ValueError as exc:  # a 2xx body that is not JSON
        raise ApiRequestError(200, f"invalid JSON body: {exc}", cause=exc) from exc
