"""Build, check and publish the ageflow packages in dependency order.

Every package under ``packages/*`` and ``packages/runners/*`` is published on its own. The
publish order is derived from the dependency ranges each ``pyproject.toml`` declares on its
siblings, never from a hand-kept list, so a package cannot reach an index before the packages
it needs (the original published its MCP server before the server it requires, and never
published the SQLite store at all).

Commands (``python scripts/release.py --help`` for the options):

* ``plan``    the order, versions, what the index already has, and the sibling ranges; fails
              when a declared range does not admit the sibling version being released;
* ``build``   wheel and sdist per package, ``twine check``, then an install of the built wheels
              into a fresh virtual environment outside the workspace, with an import of every
              package and ``ageflow --version`` when a package provides that script;
* ``publish`` uploads in order, skips files the index already has, and waits until the index
              serves each package before its dependents are uploaded;
* ``smoke``   installs the top-most packages from an index into a fresh environment and runs
              the same checks as ``build`` (used after the TestPyPI upload);
* ``bump``    raises one package's version and widens its dependents' ranges to admit it.
"""
