"""Install PostgreSQL's server binaries for the test suite, when the machine has none.

``hatch run test`` runs this first: the PostgreSQL store's tests start a real server of
their own (``ageflow.testing.postgres_server``) and need ``initdb`` and ``postgres``. On a
Debian or Ubuntu machine it installs the ``postgresql`` package with apt-get (as root, or
through sudo); elsewhere it says what to install and the tests that need it fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys


def have_binaries() -> bool:
    return shutil.which("initdb") is not None or bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def install() -> int:
    apt = shutil.which("apt-get")
    if apt is None:
        print("postgres_binaries: no apt-get; install PostgreSQL yourself", file=sys.stderr)
        return 0  # the tests that need it fail and say so
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("postgres_binaries: apt-get install postgresql (for the store tests)", file=sys.stderr)
    for step in (["update", "-qq"], ["install", "-y", "-qq", "postgresql"]):
        done = subprocess.run(
            [*prefix, apt, *step], env=env, stdout=subprocess.DEVNULL, check=False
        )
        if done.returncode != 0:
            print("postgres_binaries: apt-get failed; install PostgreSQL", file=sys.stderr)
            return 0
    return 0


def main() -> int:
    return 0 if have_binaries() else install()


if __name__ == "__main__":
    raise SystemExit(main())
