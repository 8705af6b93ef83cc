"""Install the node clients the test suite runs (tests/node), when missing or stale.

``hatch run test`` runs this first, so the README's test command works on a fresh machine
that has npm: it runs ``npm ci`` in tests/node when node_modules is absent or was installed
from another lockfile. A stamp file in node_modules holds the lockfile's digest.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent.parent / "tests" / "node"
LOCKFILE = NODE_DIR / "package-lock.json"
STAMP = NODE_DIR / "node_modules" / ".ageflow-lock-sha256"


def lock_digest() -> str:
    return hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()


def is_current() -> bool:
    return STAMP.is_file() and STAMP.read_text().strip() == lock_digest()


def install() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print("node_clients: npm not found; install Node.js (>= 18) with npm", file=sys.stderr)
        return 1
    print("node_clients: npm ci in tests/node (MCP clients for the test suite)", file=sys.stderr)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=False
    )
    if done.returncode != 0:
        return done.returncode
    STAMP.write_text(lock_digest() + "\n")
    return 0


def main() -> int:
    return 0 if is_current() else install()


if __name__ == "__main__":
    raise SystemExit(main())
