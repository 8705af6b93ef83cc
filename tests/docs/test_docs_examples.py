"""The Python examples of the runnable documentation pages actually run.

Every ```python block of a page is executed, in order, in one namespace (as a reader would
paste them into one file); afterwards every ``test_*`` function the page defined is called,
so the pytest-style examples are checked too. A block preceded by the line
``<!-- docs-test: skip ... -->`` is not run (it needs a package that does not exist yet, or
one that is not a dependency of the docs, such as a web framework).
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

import anyio
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNNABLE_PAGES = [
    "quickstart.md",
    "testing.md",
    "running.md",
    "server.md",
    "durability.md",
    "runners.md",
    "mcp.md",
    "learning.md",
]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SKIP_MARK = "<!-- docs-test: skip"


def python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        if before and before[-1].startswith(SKIP_MARK):
            continue
        blocks.append(match.group(1))
    return blocks


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_page_examples_run(page, capsys):
    blocks = python_blocks(page)
    assert blocks, f"{page} has no runnable Python block"
    # A real module, so that pydantic can resolve the page's models (generics, Literal).
    module = ModuleType(f"docs_{page.removesuffix('.md')}")
    sys.modules[module.__name__] = module
    namespace: dict[str, object] = module.__dict__
    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"{page} (python block {number})", "exec")
        exec(code, namespace)
    for name, value in list(namespace.items()):
        if not name.startswith("test_") or not callable(value):
            continue
        if inspect.iscoroutinefunction(value):
            anyio.run(value)
        else:
            value()


def test_quickstart_prints_what_it_says():
    # The quickstart shows its output; keep the page honest about it.
    namespace: dict[str, object] = {"__name__": "docs_quickstart_output"}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in python_blocks("quickstart.md"):
            exec(compile(block, "quickstart.md", "exec"), namespace)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Thanks! Your billing request will be handled right away."
    assert re.fullmatch(r"2 tasks in [0-9.]+ ms", lines[1])
    assert lines[2:] == [
        "workflow:start ",
        "task:start classify",
        "task:complete classify",
        "task:start acknowledge",
        "task:complete acknowledge",
        "workflow:complete ",
        "Thanks! Your account request will be handled within a day.",
    ]
