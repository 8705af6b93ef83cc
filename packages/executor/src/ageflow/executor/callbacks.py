"""Calling user callbacks that may be sync or async."""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("ageflow")


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` and await the result when it is awaitable."""
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result


async def call_hook(fn: Callable[..., Any] | None, *args: Any) -> Any:
    """Call an optional hook; None when it is not set. Its exceptions propagate."""
    if fn is None:
        return None
    return await call_maybe_async(fn, *args)


async def call_best_effort(hook_name: str, fn: Callable[..., Any] | None, *args: Any) -> None:
    """Call an optional hook whose failure must not fail the task: warn and go on."""
    if fn is None:
        return
    try:
        await call_maybe_async(fn, *args)
    except Exception as exc:
        message = f"ageflow hook {hook_name} raised and was ignored: {exc!r}"
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
