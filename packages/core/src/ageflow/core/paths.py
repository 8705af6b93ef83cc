"""Syntactic checks for user-supplied relative paths (``safe_path``).

The checks look only at the string, never at the file system: they reject anything that
could point outside the working directory once a shell, a URL handler or a path library
interprets it (traversal, home or variable expansion, absolute and network paths, URLs,
control characters).
"""

from __future__ import annotations

import posixpath
import re
from functools import partial
from typing import Annotated, Any, Final

from pydantic import AfterValidator

__all__ = [
    "MAX_PATH_LENGTH",
    "AbsoluteSafePath",
    "SafePath",
    "check_safe_path",
    "safe_path",
]

MAX_PATH_LENGTH: Final = 4096
"""Longest accepted path, in characters (the length itself is accepted)."""

_CONTROL_CHARS = re.compile(r"[\x01-\x1f\x7f]")
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_JAVASCRIPT_URL = re.compile(r"^javascript:", re.IGNORECASE)
_WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:[/\\]")
_POSIX_ENV_VAR = re.compile(r"\$[{(]?[A-Za-z_][A-Za-z0-9_]*[)}]?")
_WINDOWS_ENV_VAR = re.compile(r"%[A-Za-z_][A-Za-z0-9_]*%")


def _rejection(value: str, allow_absolute: bool) -> str | None:
    """The reason of the first failing check, in the fixed order below, or None."""
    if value == "":
        return "path is empty"
    if len(value) > MAX_PATH_LENGTH:
        return f"path is longer than {MAX_PATH_LENGTH} characters"
    if value != value.strip():
        return "path has leading or trailing whitespace"
    if "\x00" in value:
        return "path contains a NUL character"
    if _CONTROL_CHARS.search(value):
        return "path contains a control character"
    if _URL_SCHEME.match(value) or _JAVASCRIPT_URL.match(value):
        return "path looks like a URL"
    if value.startswith("\\\\"):
        return "path is a UNC network path"
    # Backslash-rooted and drive-letter paths are Windows-absolute; they are refused even
    # when absolute paths are allowed, because only POSIX absolute paths are meant.
    if value.startswith("\\"):
        return "path starts with a backslash (a Windows absolute path)"
    if _WINDOWS_DRIVE.match(value):
        return "path starts with a Windows drive letter"
    if value.startswith("~") or "/~" in value or "\\~" in value:
        return "path uses home-directory expansion (~)"
    if _POSIX_ENV_VAR.search(value) or _WINDOWS_ENV_VAR.search(value):
        return "path contains environment-variable syntax"
    if value.startswith("/") and not allow_absolute:
        return "absolute paths are not allowed"
    if ".." in value.replace("\\", "/").split("/"):
        return "path contains a '..' segment (directory traversal)"
    normalized = posixpath.normpath(value)
    if normalized.startswith("..") or "/.." in normalized:
        return "path escapes its directory once normalised"
    return None


def check_safe_path(value: str, *, allow_absolute: bool = False) -> str:
    """Return ``value`` when it is a safe path, else raise ``ValueError`` with the reason.

    With ``allow_absolute`` a POSIX absolute path (``/etc/x``) is accepted; Windows absolute
    forms (``\\x``, ``C:\\x``, UNC) are always refused. Names that merely begin with two
    dots (``..hidden``) are refused too: the check cannot tell them from traversal.
    """
    reason = _rejection(value, allow_absolute)
    if reason is not None:
        raise ValueError(f"unsafe path: {reason}")
    return value


SafePath = Annotated[str, AfterValidator(check_safe_path)]
"""A relative path that passes :func:`check_safe_path` (pydantic field type)."""

AbsoluteSafePath = Annotated[str, AfterValidator(partial(check_safe_path, allow_absolute=True))]
"""Like :data:`SafePath`, but POSIX absolute paths are accepted."""


def safe_path(allow_absolute: bool = False) -> Any:
    """The pydantic field type of a safe path: ``path: safe_path()``.

    Failures surface as ``pydantic.ValidationError``. For a statically typed annotation use
    :data:`SafePath` / :data:`AbsoluteSafePath`, which are the two values this returns.
    """
    return AbsoluteSafePath if allow_absolute else SafePath
