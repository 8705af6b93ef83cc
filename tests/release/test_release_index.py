"""SimpleIndex against a real HTTP server on 127.0.0.1 speaking PEP 503 HTML or PEP 691 JSON."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HTML_PAGE = """<!DOCTYPE html>
<html><body>
<a href="../../packages/ageflow_core-0.1.0-py3-none-any.whl#sha256=00ff"
   >ageflow_core-0.1.0-py3-none-any.whl</a><br>
<a href="https://files.example/ageflow_core-0.1.0.tar.gz?x=1">ageflow_core-0.1.0.tar.gz</a>
<a href="/packages/ageflow_core-0.1.1%2Blocal.tar.gz">ageflow_core-0.1.1+local.tar.gz</a>
</body></html>
"""


class FakeSimpleApi(BaseHTTPRequestHandler):
    """/simple/ageflow-core/ as HTML, /simple/ageflow-executor/ as JSON, 500 for 'broken'."""

    requests: list[tuple[str, str]] = []  # (path, Accept header)

    def do_GET(self):
        FakeSimpleApi.requests.append((self.path, self.headers.get("Accept", "")))
        if self.path == "/simple/ageflow-core/":
            self._answer(200, "text/html", HTML_PAGE)
        elif self.path == "/simple/ageflow-executor/":
            body = json.dumps({
                "meta": {"api-version": "1.1"},
                "name": "ageflow-executor",
                "files": [
                    {"filename": "ageflow_executor-0.1.0-py3-none-any.whl", "url": "x"},
                    {"filename": "ageflow_executor-0.2.0.tar.gz", "url": "y"},
                ],
            })  # fmt: skip
            self._answer(200, "application/vnd.pypi.simple.v1+json", body)
        elif self.path == "/simple/broken/":
            self._answer(500, "text/plain", "boom")
        else:
            self._answer(404, "text/plain", "not found")

    def _answer(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def index_url():
    FakeSimpleApi.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSimpleApi)
    # A short poll interval: shutdown() waits for the serving loop to look at its flag.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/simple"
    finally:
        server.shutdown()
        server.server_close()


def test_html_page_gives_file_names_from_the_links(release, index_url):
    index = release.SimpleIndex(index_url)
    assert index.filenames("ageflow-core") == {
        "ageflow_core-0.1.0-py3-none-any.whl",
        "ageflow_core-0.1.0.tar.gz",
        "ageflow_core-0.1.1+local.tar.gz",
    }


def test_json_page_gives_file_names(release, index_url):
    index = release.SimpleIndex(index_url)
    assert index.filenames("ageflow-executor") == {
        "ageflow_executor-0.1.0-py3-none-any.whl",
        "ageflow_executor-0.2.0.tar.gz",
    }
    path, accept = FakeSimpleApi.requests[-1]
    assert path == "/simple/ageflow-executor/"
    assert accept.startswith("application/vnd.pypi.simple.v1+json")


def test_project_name_is_normalised_in_the_url(release, index_url):
    release.SimpleIndex(index_url + "/").filenames("Ageflow_Executor")
    assert FakeSimpleApi.requests[-1][0] == "/simple/ageflow-executor/"


def test_unknown_project_has_no_files(release, index_url):
    assert release.SimpleIndex(index_url).filenames("ageflow-cli") == frozenset()


def test_server_error_is_a_release_error(release, index_url):
    with pytest.raises(release.ReleaseError, match="answered 500 for broken"):
        release.SimpleIndex(index_url).filenames("broken")


def test_versions_on_index_only_counts_the_package_itself(release, index_url, make_workspace, pkg):
    workspace = release.discover_workspace(make_workspace(pkg("executor", "ageflow-executor")))
    versions = release.versions_on_index(
        release.SimpleIndex(index_url), workspace.get("ageflow-executor")
    )
    assert sorted(str(v) for v in versions) == ["0.1.0", "0.2.0"]


def test_plan_command_reads_a_live_index(release, index_url, make_workspace, pkg, capsys):
    root = make_workspace(
        pkg("core", "ageflow-core"),
        pkg("executor", "ageflow-executor", version="0.3.0", dependencies=["ageflow-core>=0.1"]),
    )
    assert release.main(["--root", str(root), "plan", "--index-url", index_url]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert rows[0].split()[:4] == ["1", "ageflow-core", "0.1.0", "yes"]
    assert rows[1].split()[:4] == ["2", "ageflow-executor", "0.3.0", "no"]
