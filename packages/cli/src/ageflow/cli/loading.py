"""Finding the workflow a command works on: a ``.py`` file path or ``module:attribute``.

A file must export a module attribute named ``workflow``. Importing runs the file, so
a workflow file may register its runners at import (the examples do).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ageflow.cli.errors import WorkflowLoadError, one_line
from ageflow.core.workflow import WorkflowDef

WORKFLOW_ATTRIBUTE = "workflow"


def load_workflow(spec: str) -> WorkflowDef:
    """The workflow named by ``spec``: ``path/to/file.py`` or ``package.module:attribute``.

    Raises ``WorkflowLoadError`` with a one-line message when the file is missing, the
    import fails, or the attribute is missing or not a workflow (``None`` included).
    """
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        module = _import_file(Path(spec))
        attribute = WORKFLOW_ATTRIBUTE
    else:
        module_name, _, attribute = spec.partition(":")
        module = _import_module(module_name, spec)
        attribute = attribute or WORKFLOW_ATTRIBUTE
    if not hasattr(module, attribute):
        raise WorkflowLoadError(f'"{spec}" does not export "{attribute}"')
    value = getattr(module, attribute)
    if not isinstance(value, WorkflowDef):
        raise WorkflowLoadError(
            f'"{spec}": "{attribute}" must be a workflow made by define_workflow, '
            f"found {type(value).__name__}"
        )
    return value


def _import_file(path: Path) -> ModuleType:
    resolved = path.resolve()
    if not resolved.is_file():
        raise WorkflowLoadError(f'Cannot import workflow file "{path}": no such file')
    # A name unique per path: two files both called workflow.py must not collide.
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    name = f"_ageflow_workflow_{resolved.stem}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise WorkflowLoadError(f'Cannot import workflow file "{path}": not a Python file')
    module = importlib.util.module_from_spec(module_spec)
    # The file's own folder first on the path, so it can import its neighbours.
    sys.path.insert(0, str(resolved.parent))
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise WorkflowLoadError(
            f'Cannot import workflow file "{path}": {type(exc).__name__}: {one_line(str(exc))}'
        ) from exc
    finally:
        sys.path.remove(str(resolved.parent))
    return module


def _import_module(module_name: str, spec: str) -> ModuleType:
    if not module_name:
        raise WorkflowLoadError(f'"{spec}" names no module: use module:attribute or a .py file')
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise WorkflowLoadError(
            f'Cannot import workflow module "{module_name}": '
            f"{type(exc).__name__}: {one_line(str(exc))}"
        ) from exc
