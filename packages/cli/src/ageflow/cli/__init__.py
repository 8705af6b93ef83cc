"""ageflow.cli: the ``ageflow`` command (alias ``agentwf``).

``run``, ``validate``, ``dry-run`` and ``init`` work on one workflow; ``mcp serve``
serves a workflow as an MCP tool over stdio or Streamable HTTP; ``jobs`` inspects and
acts on durable jobs. ``load_workflow`` is the loader every command uses.
"""

from ageflow.cli.errors import CliError, UsageError, WorkflowLoadError
from ageflow.cli.loading import load_workflow
from ageflow.cli.version import cli_version

__all__ = ["CliError", "UsageError", "WorkflowLoadError", "cli_version", "load_workflow"]
