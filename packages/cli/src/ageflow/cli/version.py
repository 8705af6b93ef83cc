"""The installed version of ageflow-cli, read from the package metadata (never hard-coded)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "ageflow-cli"


def cli_version() -> str:
    """The version pip installed; ``0+unknown`` when running from an uninstalled tree."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
