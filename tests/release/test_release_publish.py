"""publish: dependency order, skip what the index has, wait until it is served."""

from __future__ import annotations

import dataclasses

import pytest
from packaging.version import Version


class FakeIndex:
    """An index that starts serving an uploaded file only after ``delay`` more polls."""

    url = "https://fake.index/simple/"

    def __init__(self, events, present=None, delay=2, never_serve=False):
        self.events = events
        self.served = {name: set(files) for name, files in (present or {}).items()}
        self.pending = {}  # filename -> (project, polls left)
        self.delay = delay
        self.never_serve = never_serve

    def accept(self, project, filename):
        self.pending[filename] = (project, self.delay)

    def filenames(self, project):
        self.events.append(("poll", project))
        for filename, (owner, left) in list(self.pending.items()):
            if owner != project or self.never_serve:
                continue
            if left == 0:
                self.served.setdefault(project, set()).add(filename)
                del self.pending[filename]
            else:
                self.pending[filename] = (owner, left - 1)
        return frozenset(self.served.get(project, ()))


class FakeUploader:
    def __init__(self, events, index, fail_on=None):
        self.events = events
        self.index = index
        self.fail_on = fail_on

    def upload(self, files):
        project = files[0].parent.name
        if project == self.fail_on:
            raise RuntimeError(f"upload of {project} failed")
        self.events.append(("upload", project, sorted(f.name for f in files)))
        for f in files:
            self.index.accept(project, f.name)


class FakeTime:
    def __init__(self, events):
        self.now = 0.0
        self.events = events

    def sleep(self, seconds):
        self.events.append(("sleep", seconds))
        self.now += seconds

    def clock(self):
        return self.now


def dist_files(name, version):
    stem = name.replace("-", "_")
    return [f"{stem}-{version}-py3-none-any.whl", f"{stem}-{version}.tar.gz"]


@pytest.fixture
def built(release, make_workspace, starter_packages, tmp_path):
    """A workspace whose wheels and sdists are 'built' (empty files with the right names)."""
    workspace = release.discover_workspace(make_workspace(*starter_packages))
    dist = tmp_path / "dist"
    for package in workspace.packages.values():
        directory = dist / package.name
        directory.mkdir(parents=True)
        for filename in dist_files(package.display_name, package.version):
            (directory / filename).write_bytes(b"")
        # an older build left behind must not be uploaded again
        (directory / dist_files(package.display_name, "0.0.9")[1]).write_bytes(b"")
    return workspace, dist


def publish(release, built, index, uploader, fake_time, timeout=60.0):
    workspace, dist = built
    waiting = release.Waiting(
        timeout=timeout, interval=5.0, sleep=fake_time.sleep, clock=fake_time.clock
    )
    return release.publish_all(workspace, dist, index, uploader, waiting)


def uploads(events):
    return [e[1:] for e in events if e[0] == "upload"]


def test_every_package_is_uploaded_in_order_and_served_before_its_dependents(release, built):
    events = []
    index = FakeIndex(events)
    publish(release, built, index, FakeUploader(events, index), FakeTime(events))

    assert uploads(events) == [
        ("ageflow-core", dist_files("ageflow-core", "0.1.0")),
        ("ageflow-executor", dist_files("ageflow-executor", "0.1.0")),
        ("ageflow-testing", dist_files("ageflow-testing", "0.1.0")),
    ]
    # Between one upload and the next, the index was polled (and waited on) until it served
    # the first: the executor upload happens only once core is visible.
    core_upload = events.index(("upload", *uploads(events)[0]))
    executor_upload = events.index(("upload", *uploads(events)[1]))
    between = events[core_upload + 1 : executor_upload]
    assert between == [
        ("poll", "ageflow-core"),
        ("sleep", 5.0),
        ("poll", "ageflow-core"),
        ("sleep", 5.0),
        ("poll", "ageflow-core"),
        ("poll", "ageflow-executor"),  # the presence check of the next package
    ]
    assert index.served["ageflow-core"] == set(dist_files("ageflow-core", "0.1.0"))


def test_versions_already_on_the_index_are_skipped(release, built, capsys):
    events = []
    present = {
        "ageflow-core": dist_files("ageflow-core", "0.1.0"),
        "ageflow-executor": dist_files("ageflow-executor", "0.1.0"),
    }
    index = FakeIndex(events, present=present)
    outcomes = publish(release, built, index, FakeUploader(events, index), FakeTime(events))

    assert [u[0] for u in uploads(events)] == ["ageflow-testing"]
    assert [(o.package.display_name, o.uploaded) for o in outcomes] == [
        ("ageflow-core", []),
        ("ageflow-executor", []),
        ("ageflow-testing", dist_files("ageflow-testing", "0.1.0")),
    ]
    out = capsys.readouterr().out
    assert "ageflow-core 0.1.0: already on https://fake.index/simple/, skipped" in out


def test_a_half_uploaded_version_gets_only_its_missing_file(release, built):
    events = []
    wheel, sdist = dist_files("ageflow-executor", "0.1.0")
    present = {"ageflow-core": dist_files("ageflow-core", "0.1.0"), "ageflow-executor": [wheel]}
    index = FakeIndex(events, present=present, delay=0)
    publish(release, built, index, FakeUploader(events, index), FakeTime(events))
    assert uploads(events) == [
        ("ageflow-executor", [sdist]),
        ("ageflow-testing", dist_files("ageflow-testing", "0.1.0")),
    ]


def test_a_rerun_after_a_failed_upload_finishes_the_job(release, built):
    events = []
    index = FakeIndex(events, delay=0)
    with pytest.raises(RuntimeError, match="ageflow-executor failed"):
        publish(
            release, built, index, FakeUploader(events, index, fail_on="ageflow-executor"),
            FakeTime(events),
        )  # fmt: skip
    assert [u[0] for u in uploads(events)] == ["ageflow-core"]

    events.clear()
    publish(release, built, index, FakeUploader(events, index), FakeTime(events))
    assert [u[0] for u in uploads(events)] == ["ageflow-executor", "ageflow-testing"]
    assert set(index.served) == {"ageflow-core", "ageflow-executor", "ageflow-testing"}


def test_an_upload_the_index_never_serves_stops_the_release(release, built):
    events = []
    index = FakeIndex(events, never_serve=True)
    fake_time = FakeTime(events)
    with pytest.raises(release.ReleaseError, match=r"still does not serve ageflow_core-0\.1\.0"):
        publish(release, built, index, FakeUploader(events, index), fake_time, timeout=30.0)
    assert [u[0] for u in uploads(events)] == ["ageflow-core"]  # dependents never went up
    assert fake_time.now == 30.0


def test_missing_build_fails_before_any_upload(release, built):
    _, dist = built
    for path in (dist / "ageflow-testing").glob("*.whl"):
        path.unlink()
    events = []
    index = FakeIndex(events)
    with pytest.raises(release.ReleaseError, match=r"run `release\.py build` first"):
        publish(release, built, index, FakeUploader(events, index), FakeTime(events))
    assert uploads(events) == []


def test_publish_refuses_ranges_that_exclude_the_release(release, built):
    workspace, _ = built
    core = workspace.packages["ageflow-core"]
    workspace.packages["ageflow-core"] = dataclasses.replace(core, version=Version("0.2.0"))
    events = []
    index = FakeIndex(events)
    with pytest.raises(release.ReleaseError, match="refusing to publish"):
        publish(release, built, index, FakeUploader(events, index), FakeTime(events))
    assert events == []


def test_twine_uploader_targets_the_given_repository(release, monkeypatch, tmp_path):
    calls = []
    # `run` is looked up in the module that defines TwineUploader, so it is patched there.
    monkeypatch.setattr(
        f"{release.TwineUploader.__module__}.run",
        lambda command, **kw: calls.append([str(c) for c in command]),
    )
    wheel = tmp_path / "ageflow_core-0.1.0-py3-none-any.whl"
    release.TwineUploader("https://test.pypi.org/legacy/").upload([wheel])
    (command,) = calls
    assert command[1:4] == ["-m", "twine", "upload"]
    assert command[command.index("--repository-url") + 1] == "https://test.pypi.org/legacy/"
    assert "--non-interactive" in command
    assert command[-1] == str(wheel)
