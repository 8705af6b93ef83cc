"""Serve a directory as a package index (pypiserver) on a free port of 127.0.0.1.

Used by the end-to-end release test: it prints the port once the socket listens, so the test
reads one line instead of polling, and no other process can take the port in between.
Uploads need no password. Run: python local_index_server.py PACKAGE_DIR
"""

from __future__ import annotations

import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pypiserver


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    application = pypiserver.app(
        roots=[sys.argv[1]],
        authenticate=[],
        password_file=".",
        # A missing project must be a 404, not a redirect to the public index.
        disable_fallback=True,
    )
    server = make_server("127.0.0.1", 0, application, handler_class=QuietHandler)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
