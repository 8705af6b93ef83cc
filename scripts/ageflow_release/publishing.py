"""Publishing: upload in dependency order, skip what the index has, wait until it is served."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ._running import run
from .building import built_files
from .errors import ReleaseError
from .graph import range_problems
from .index import Index
from .workspace import Package, Workspace


class Uploader(Protocol):
    def upload(self, files: Sequence[Path]) -> None: ...


class TwineUploader:
    """Uploads with twine. On PyPI and TestPyPI, inside GitHub Actions with ``id-token: write``
    and no password set, twine obtains a short-lived token by trusted publishing (OIDC)."""

    def __init__(self, repository_url: str) -> None:
        self.repository_url = repository_url

    def upload(self, files: Sequence[Path]) -> None:
        run([
            sys.executable, "-m", "twine", "upload", "--non-interactive",
            "--disable-progress-bar", "--repository-url", self.repository_url, *files,
        ])  # fmt: skip


@dataclass
class Waiting:
    """How long to wait for an index to serve an upload, and how (injectable for tests)."""

    timeout: float = 600.0
    interval: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def wait_until_served(index: Index, package: Package, names: set[str], waiting: Waiting) -> None:
    deadline = waiting.clock() + waiting.timeout
    while True:
        missing = names - index.filenames(package.display_name)
        if not missing:
            return
        if waiting.clock() >= deadline:
            raise ReleaseError(
                f"{index.url} still does not serve {', '.join(sorted(missing))} "
                f"after {waiting.timeout:.0f}s; re-run publish later, it skips what is there"
            )
        waiting.sleep(waiting.interval)


@dataclass(frozen=True)
class PublishOutcome:
    package: Package
    uploaded: list[str]
    skipped: list[str]


def publish_all(
    workspace: Workspace,
    dist_dir: Path,
    index: Index,
    uploader: Uploader,
    waiting: Waiting | None = None,
) -> list[PublishOutcome]:
    """Upload every package in dependency order, skipping files the index already has.

    Because presence is checked file by file, a re-run after any failure uploads exactly what
    is still missing. After each upload the index is polled until it serves the new files, so
    a dependent is never uploaded while an installer could not yet resolve its dependencies.
    """
    waiting = waiting or Waiting()
    problems = range_problems(workspace)
    if problems:
        raise ReleaseError("refusing to publish:\n  " + "\n  ".join(problems))
    order = workspace.publish_order()
    # Check every artifact before the first upload, so a missing build fails fast.
    files_by_package = {p.name: built_files(dist_dir, p) for p in order}
    outcomes = []
    for package in order:
        files = files_by_package[package.name]
        present = index.filenames(package.display_name)
        missing = [f for f in files if f.name not in present]
        skipped = [f.name for f in files if f.name in present]
        label = f"{package.display_name} {package.version}"
        if not missing:
            print(f"{label}: already on {index.url}, skipped", flush=True)
        else:
            print(f"{label}: uploading {', '.join(f.name for f in missing)}", flush=True)
            uploader.upload(missing)
            print(f"{label}: waiting until {index.url} serves it", flush=True)
            wait_until_served(index, package, {f.name for f in files}, waiting)
            print(f"{label}: served", flush=True)
        outcomes.append(PublishOutcome(package, [f.name for f in missing], skipped))
    return outcomes
