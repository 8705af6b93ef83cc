"""ageflow.runners.codex: run ageflow agents through the ``codex`` CLI."""

from ageflow.runners.codex.argv import (
    SandboxMode,
    build_argv,
    render_codex_mcp_flags,
    toml_string,
)
from ageflow.runners.codex.output import CodexOutput, parse_codex_output
from ageflow.runners.codex.runner import (
    INSTALL_HINT,
    CodexRateLimitError,
    CodexRunner,
    CodexSubprocessError,
)

__all__ = [
    "INSTALL_HINT",
    "CodexOutput",
    "CodexRateLimitError",
    "CodexRunner",
    "CodexSubprocessError",
    "SandboxMode",
    "build_argv",
    "parse_codex_output",
    "render_codex_mcp_flags",
    "toml_string",
]
