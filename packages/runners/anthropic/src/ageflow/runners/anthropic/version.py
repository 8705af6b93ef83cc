"""The runner's name and version, as sent in the MCP handshake."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["RUNNER_NAME", "RUNNER_VERSION"]

RUNNER_NAME = "ageflow-runner-anthropic"

try:
    RUNNER_VERSION: str = version(RUNNER_NAME)
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    RUNNER_VERSION = "0.0.0"
