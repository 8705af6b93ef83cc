"""A real, throwaway PostgreSQL server for tests: ``initdb`` into a temporary folder,
``postgres`` on a free loopback port, stopped and removed on the way out.

The binaries come from the machine (Debian's ``postgresql`` package: ``.ci/run`` installs
it). When they are missing, ``PostgresServer`` raises ``PostgresUnavailableError`` naming
what to install, so a test that needs one fails instead of skipping. ``initdb`` refuses to
run as root, so as root the cluster is made and run as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

_START_TIMEOUT_S = 60.0


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries on this machine (or the server would not start)."""


def postgres_bindir() -> Path:
    """The folder holding ``initdb`` and ``postgres``: PATH first, then Debian's layout."""
    found = shutil.which("initdb")
    if found is not None:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major, reverse=True)
    if versions:
        return Path(versions[0]).parent
    raise PostgresUnavailableError(
        "PostgreSQL server binaries (initdb, postgres) not found: install them, e.g. "
        "`apt-get install postgresql` (.ci/run does)"
    )


def _major(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server of its own, reachable at ``dsn`` (user ``postgres``, trust auth).

    Synchronous on purpose: it is made once per test session (a fixture), before any
    event loop runs.
    """

    def __init__(self) -> None:
        # Its own folder in the system temp dir: pytest's tmp folders are private to the
        # test user, and the server may run as ``postgres``. Removed by ``stop``.
        self.folder = Path(tempfile.mkdtemp(prefix="ageflow-postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._process: subprocess.Popen[bytes] | None = None
        self._as_user = _unprivileged_user()

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run_as(self) -> dict[str, Any]:
        # Popen's own user switch: the child is postgres itself, so signals reach it.
        if self._as_user is None:
            return {}
        owner = pwd.getpwnam(self._as_user)
        return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    def start(self) -> None:
        bindir = postgres_bindir()
        if self._as_user:
            owner = pwd.getpwnam(self._as_user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        initdb = (
            str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        done = subprocess.run(initdb, capture_output=True, check=False, **self._run_as())
        if done.returncode != 0:
            raise PostgresUnavailableError(f"initdb failed: {done.stderr.decode().strip()}")
        self._launch()

    def _launch(self) -> None:
        bindir = postgres_bindir()
        server = (
            str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
            "-c", "fsync=off", "-c", "max_connections=200",
        )  # fmt: skip
        log = (self.folder / "postgres.log").open("ab")
        self._process = subprocess.Popen(
            server, stdout=log, stderr=subprocess.STDOUT, **self._run_as()
        )
        self._wait_until_accepting()

    def _wait_until_accepting(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                log = (self.folder / "postgres.log").read_text(errors="replace")
                raise PostgresUnavailableError(f"postgres exited at start:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            if (self.data / "postmaster.pid").read_text().count("\n") >= 7:
                return  # the pid file's status line is written once it accepts connections
            time.sleep(0.05)
        raise PostgresUnavailableError(f"postgres did not accept connections on {self.port}")

    def restart(self, downtime_s: float = 0.0) -> None:
        """Stop the server (every connection drops), stay down ``downtime_s``, and start
        it again on the same data and port, as a database restart in production does."""
        self._shut_down()
        time.sleep(downtime_s)
        self._launch()

    def stop(self) -> None:
        self._shut_down()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _shut_down(self) -> None:
        if self._process is not None and self._process.poll() is None:
            # SIGINT is the fast shutdown: it does not wait for clients to disconnect.
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


def _unprivileged_user() -> str | None:
    """Root runs the cluster as ``postgres`` (initdb refuses root); others as themselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailableError(
            "running as root, and there is no `postgres` user to run the server as"
        ) from None
    return "postgres"
