"""Checkpointer: WAL checkpoints in a daemon thread, never on the event loop.

The store's connections run with automatic checkpoints off (a checkpoint fsyncs the
database file: a wait of unbounded length). The store pokes the checkpointer every few
hundred commits; it then runs a PASSIVE checkpoint on its own connection, which copies
what it can without waiting for readers or writers and never blocks a commit.
"""

from __future__ import annotations

import sqlite3
import threading

from ageflow.server_sqlite.connection import connect

# Commits between checkpoints: a step commit adds two or three WAL pages, so this keeps
# the WAL near SQLite's own automatic threshold of 1000 pages.
COMMITS_PER_CHECKPOINT = 300


class Checkpointer:
    def __init__(self, path: str) -> None:
        self._path = path
        self._wake = threading.Event()
        self._stopping = False
        self._commits = 0
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._loop, name="ageflow-sqlite-checkpoint")
        self._thread.daemon = True  # never keeps the interpreter alive

    def start(self) -> None:
        self._thread.start()

    def committed(self) -> None:
        """Count a commit; every COMMITS_PER_CHECKPOINT, wake the thread."""
        self._commits += 1
        if self._commits >= COMMITS_PER_CHECKPOINT:
            self._commits = 0
            self._wake.set()

    def stop(self) -> None:
        """Ask the thread to end (it closes its connection); does not wait for it."""
        self._stopping = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            # The checkpoint waits for no lock (PASSIVE), so no busy timeout either.
            conn = connect(self._path, busy_timeout_ms=0, autocheckpoint=False)
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:
                    pass  # busy or interrupted: the next poke tries again
        except sqlite3.Error:
            return  # the file went away: nothing to checkpoint
        finally:
            if conn is not None:
                conn.close()
