"""ageflow.runners.claude: run ageflow agents through the ``claude`` CLI (Claude Code)."""

from ageflow.runners.claude.argv import build_argv, render_mcp_json
from ageflow.runners.claude.output import ClaudeOutput, parse_claude_output
from ageflow.runners.claude.runner import (
    INSTALL_HINT,
    ClaudeRateLimitError,
    ClaudeRunner,
    ClaudeSubprocessError,
)

__all__ = [
    "INSTALL_HINT",
    "ClaudeOutput",
    "ClaudeRateLimitError",
    "ClaudeRunner",
    "ClaudeSubprocessError",
    "build_argv",
    "parse_claude_output",
    "render_mcp_json",
]
