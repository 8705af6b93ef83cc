"""The package index client: which files a simple repository API (PEP 503/691) serves."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Protocol

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from .errors import ReleaseError
from .workspace import Package

SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)


@dataclass(frozen=True)
class Repository:
    name: str
    upload_url: str
    index_url: str


REPOSITORIES = {
    "pypi": Repository("pypi", "https://upload.pypi.org/legacy/", "https://pypi.org/simple/"),
    "testpypi": Repository(
        "testpypi", "https://test.pypi.org/legacy/", "https://test.pypi.org/simple/"
    ),
}


class Index(Protocol):
    url: str

    def filenames(self, project: str) -> frozenset[str]:
        """Every distribution file the index serves for ``project`` (empty if unknown)."""
        ...


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.filenames: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href")
        if href:
            path = urllib.parse.urlsplit(href).path
            self.filenames.add(urllib.parse.unquote(path.rsplit("/", 1)[-1]))


class SimpleIndex:
    """Reads a project's files from a simple repository API over HTTP."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout

    def filenames(self, project: str) -> frozenset[str]:
        page = urllib.parse.urljoin(self.url, canonicalize_name(project) + "/")
        request = urllib.request.Request(
            page,
            # no-cache: a CDN in front of the index must not answer from before an upload.
            headers={"Accept": SIMPLE_ACCEPT, "Cache-Control": "no-cache"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                content_type = response.headers.get_content_type()
                body = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return frozenset()
            raise ReleaseError(f"index {self.url} answered {exc.code} for {project}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ReleaseError(f"cannot reach index {self.url}: {exc}") from exc
        if content_type.endswith("json"):
            return frozenset(str(f["filename"]) for f in json.loads(body).get("files", []))
        collector = _LinkCollector()
        collector.feed(body)
        return frozenset(collector.filenames)


def distribution_version(filename: str) -> tuple[NormalizedName, Version] | None:
    """Project name and version of a wheel or sdist file name, ``None`` for anything else."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return name, version
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def versions_on_index(index: Index, package: Package) -> set[Version]:
    found = set()
    for filename in index.filenames(package.display_name):
        parsed = distribution_version(filename)
        if parsed is not None and parsed[0] == package.name:
            found.add(parsed[1])
    return found
