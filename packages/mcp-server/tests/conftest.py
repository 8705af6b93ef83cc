"""The MCP server tests share their workflow (mcp_greeting.py) and client helpers (mcp_calls.py)
from this folder."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
