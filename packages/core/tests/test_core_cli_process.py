"""ageflow.core.cli_process: child environment, output caps, killing the process group."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import anyio
import pytest

from ageflow.core import (
    CliNotFoundError,
    CliOutputTooLargeError,
    CliRateLimitError,
    CliSubprocessError,
    EnvConfig,
    TaskTimeoutError,
    build_child_env,
    compose_prompt,
    is_permission_prompt,
    probe_version,
    run_cli,
    split_json_lines,
)
from ageflow.testing.processes import process_gone

pytestmark = pytest.mark.anyio


async def dies(pid: int) -> bool:
    """Whether ``pid`` exits within 5 s; event-driven (a pidfd turns readable at exit).

    Works for processes that are not our children, such as a killed grandchild whose
    SIGKILL is still being delivered.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        with anyio.move_on_after(5):
            await anyio.wait_readable(fd)
            return True
        return False
    finally:
        os.close(fd)


class PidPipe:
    """A FIFO that child scripts write their pids into: the test waits on it, no sleeping."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        # Read-write keeps the FIFO open, so a writer never blocks and reads never see EOF.
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self._buffer = b""

    async def next_pid(self) -> int:
        while b"\n" not in self._buffer:
            await anyio.wait_readable(self.fd)
            self._buffer += os.read(self.fd, 256)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return int(line)

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def pid_pipe(tmp_path: Path):
    pipe = PidPipe(tmp_path / "pids")
    yield pipe
    pipe.close()


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport os, signal, subprocess, sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


def hanging_script(tmp_path: Path, pipe: PidPipe, *, ignore_term: bool = False) -> str:
    """Writes its pid (and its grandchild's) to the pipe, then sleeps until killed."""
    body = f"""
if {ignore_term!r}:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
with open({str(pipe.path)!r}, "w") as fifo:
    fifo.write(f"{{os.getpid()}}\\n{{child.pid}}\\n")
sys.stdout.write("started\\n")
sys.stdout.flush()
time.sleep(3600)
"""
    return script(tmp_path, "hang", body)


# --- environment -----------------------------------------------------------------------


def test_child_env_inherits_everything_without_config() -> None:
    base = {"PATH": "/bin", "SECRET_TOKEN": "s"}
    assert build_child_env(None, base) == base


def test_child_env_scrubs_exact_names_and_regexes() -> None:
    base = {"PATH": "/bin", "AWS_SECRET": "a", "GITHUB_TOKEN": "g", "HOME": "/h", "X_TOKEN_Y": "x"}
    env = EnvConfig(scrub=["AWS_SECRET", re.compile(r"_TOKEN$")])
    assert build_child_env(env, base) == {"PATH": "/bin", "HOME": "/h", "X_TOKEN_Y": "x"}


def test_child_env_pass_vars_win_over_scrub() -> None:
    base = {"PATH": "/bin", "ANTHROPIC_API_KEY": "k", "OTHER_KEY": "o"}
    env = EnvConfig(pass_vars=["ANTHROPIC_API_KEY"], scrub=[re.compile(r"_KEY$")])
    assert build_child_env(env, base) == {"PATH": "/bin", "ANTHROPIC_API_KEY": "k"}


def test_child_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGEFLOW_CLI_TEST_VAR", "v")
    env = build_child_env(EnvConfig(scrub=["HOME"]))
    assert env["AGEFLOW_CLI_TEST_VAR"] == "v"
    assert "HOME" not in env


async def test_child_gets_the_built_env(tmp_path: Path) -> None:
    printer = script(tmp_path, "printenv", "print(os.environ.get('KEEP'), os.environ.get('DROP'))")
    env = build_child_env(EnvConfig(scrub=["DROP"]), {"KEEP": "k", "DROP": "d"})
    done = await run_cli([printer], env=env)
    assert done.stdout == "k None\n"


# --- running -----------------------------------------------------------------------------


async def test_run_cli_returns_output_and_exit_code_with_stdin_devnull(tmp_path: Path) -> None:
    body = """
print("out:" + str(os.path.samestat(os.fstat(0), os.stat(os.devnull))))
sys.stderr.write("err\\n")
sys.exit(3)
"""
    done = await run_cli([script(tmp_path, "p", body)])
    assert done.exit_code == 3
    assert done.stdout == "out:True\n"
    assert done.stderr == "err\n"
    assert process_gone(done.pid)


async def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    done = await run_cli([script(tmp_path, "p", "sys.stdout.buffer.write(b'a\\xffb')")])
    assert done.stdout == "a\ufffdb"


async def test_missing_executable_is_a_clear_error() -> None:
    with pytest.raises(CliNotFoundError) as caught:
        await run_cli(["ageflow-no-such-cli-xyz", "--version"], not_found_hint="Install it.")
    assert caught.value.executable == "ageflow-no-such-cli-xyz"
    assert "'ageflow-no-such-cli-xyz'" in str(caught.value)
    assert "Install it." in str(caught.value)
    assert "subprocess" not in str(caught.value)  # not retried by the executor


async def test_stdout_over_the_cap_kills_and_raises(tmp_path: Path, pid_pipe: PidPipe) -> None:
    body = f"""
with open({str(pid_pipe.path)!r}, "w") as fifo:
    fifo.write(f"{{os.getpid()}}\\n")
sys.stdout.write("x" * 5000)
sys.stdout.flush()
time.sleep(3600)
"""
    with pytest.raises(CliOutputTooLargeError) as caught:
        await run_cli([script(tmp_path, "big", body)], max_stdout_bytes=1000)
    assert caught.value.limit_bytes == 1000
    assert process_gone(await pid_pipe.next_pid())


async def test_stderr_keeps_only_its_tail(tmp_path: Path) -> None:
    body = "sys.stderr.write('a' * 100000 + 'END')"
    done = await run_cli([script(tmp_path, "noisy", body)])
    assert done.stderr.endswith("aEND")
    assert len(done.stderr) == 64 * 1024


async def test_timeout_kills_the_whole_group(tmp_path: Path, pid_pipe: PidPipe) -> None:
    with pytest.raises(TaskTimeoutError) as caught:
        await run_cli([hanging_script(tmp_path, pid_pipe)], timeout_ms=300, task_name="t1")
    assert caught.value.task_name == "t1"
    assert caught.value.timeout_ms == 300
    leader, grandchild = await pid_pipe.next_pid(), await pid_pipe.next_pid()
    assert process_gone(leader)
    assert await dies(grandchild)


async def test_sigterm_ignored_escalates_to_sigkill(tmp_path: Path, pid_pipe: PidPipe) -> None:
    argv = [hanging_script(tmp_path, pid_pipe, ignore_term=True)]
    with pytest.raises(TaskTimeoutError):
        await run_cli(argv, timeout_ms=300, kill_grace_s=0.1)
    assert process_gone(await pid_pipe.next_pid())
    assert await dies(await pid_pipe.next_pid())


async def test_cancellation_kills_the_whole_group(tmp_path: Path, pid_pipe: PidPipe) -> None:
    argv = [hanging_script(tmp_path, pid_pipe)]
    pids: list[int] = []
    async with anyio.create_task_group() as group:
        group.start_soon(run_cli, argv)
        pids = [await pid_pipe.next_pid(), await pid_pipe.next_pid()]
        group.cancel_scope.cancel()
    assert process_gone(pids[0])
    assert await dies(pids[1])


async def test_leftover_grandchild_is_swept_after_a_normal_exit(
    tmp_path: Path, pid_pipe: PidPipe
) -> None:
    # The grandchild inherits stdout: without the sweep the read would never reach EOF.
    body = f"""
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
with open({str(pid_pipe.path)!r}, "w") as fifo:
    fifo.write(f"{{child.pid}}\\n")
print("done")
"""
    with anyio.fail_after(20):
        done = await run_cli([script(tmp_path, "leaver", body)])
    assert done.stdout == "done\n"
    assert await dies(await pid_pipe.next_pid())


# --- reading the answer ----------------------------------------------------------------


def test_split_json_lines() -> None:
    lines = split_json_lines('{"a":1}\n\n  5\nnot json\n  {"b":2}  \n[1]\n')
    assert lines.objects == [{"a": 1}, {"b": 2}]
    assert lines.non_json == ["not json"]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Do you want to proceed? [y/n]"], True),
        (["Continue? (Y/n)"], True),
        (["Allow? [Y/N]"], True),
        (["hello", "world"], False),
        ([], False),
    ],
)
def test_permission_prompt(lines: list[str], expected: bool) -> None:
    assert is_permission_prompt(lines) is expected


def test_compose_prompt() -> None:
    assert compose_prompt("SYS", "user") == "SYS\n\n---\n\nuser"
    assert compose_prompt("", "user") == "user"
    assert compose_prompt(None, "user") == "user"


def test_errors_codes_and_messages() -> None:
    failed = CliSubprocessError("Claude", 2, "x" * 5000 + "auth failed")
    assert failed.code == "subprocess_error"
    assert "Claude subprocess exited with code 2" in str(failed)
    assert str(failed).endswith("auth failed")
    assert len(failed.stderr) < 2100
    assert failed.to_json()["exitCode"] == 2
    limited = CliRateLimitError("Codex", "429 Too Many Requests", retry_after_s=30)
    assert limited.code == "rate_limit"
    assert limited.retry_after_s == 30
    assert "subprocess" not in str(limited)


# --- validate ------------------------------------------------------------------------------


async def test_probe_version_reads_the_version(tmp_path: Path) -> None:
    cli = script(tmp_path, "mycli", "print('My CLI 1.2.3 (build 7)')")
    result = await probe_version(cli, install_hint="pip install mycli")
    assert result.ok
    assert result.version == "1.2.3"


async def test_probe_version_without_a_number_keeps_the_output(tmp_path: Path) -> None:
    cli = script(tmp_path, "mycli", "print('  dev build  ')")
    assert (await probe_version(cli, install_hint="x")).version == "dev build"


async def test_probe_version_failing(tmp_path: Path) -> None:
    cli = script(tmp_path, "mycli", "sys.stderr.write('boom'); sys.exit(1)")
    result = await probe_version(cli, install_hint="x")
    assert not result.ok
    assert result.error == "mycli --version failed: boom"


async def test_probe_version_missing() -> None:
    result = await probe_version("ageflow-no-such-cli-xyz", install_hint="npm i -g x")
    assert not result.ok
    assert result.error == (
        "ageflow-no-such-cli-xyz CLI not found on PATH. Install via: npm i -g x"
    )


async def test_cancellation_right_after_launch_still_kills(
    tmp_path: Path, pid_pipe: PidPipe
) -> None:
    # The pid arrives before open_process may have returned: the handle must not be lost.
    body = f"""
with open({str(pid_pipe.path)!r}, "w") as fifo:
    fifo.write(f"{{os.getpid()}}\\n")
time.sleep(3600)
"""
    argv = [script(tmp_path, "early", body)]
    async with anyio.create_task_group() as group:
        group.start_soon(run_cli, argv)
        pid = await pid_pipe.next_pid()
        group.cancel_scope.cancel()
    assert await dies(pid)
