"""The fake claude/codex executables, run as real subprocesses found on PATH."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from typing import Any

import anyio
import pytest

from ageflow.testing.fake_cli import (
    CONFIG_ENV,
    EXIT_NO_SCRIPT,
    FakeCli,
    FakeResponse,
    claude_json,
    claude_rate_limited,
    codex_error,
    codex_exec,
    codex_item,
    failure,
    hang,
    hitl_prompt,
    raw_text,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def run(*argv: str, **kwargs) -> subprocess.CompletedProcess[bytes]:
    if "input" not in kwargs:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
    return await anyio.run_process(list(argv), check=False, **kwargs)


def lines(stdout: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def read_until(stream, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        seen += await stream.receive()
    return seen


def test_fixture_puts_the_fakes_first_on_path(fake_cli: FakeCli) -> None:
    assert shutil.which("claude") == str(fake_cli.bin_dir / "claude")
    assert shutil.which("codex") == str(fake_cli.bin_dir / "codex")
    assert os.environ[CONFIG_ENV] == str(fake_cli.config_path)


@pytest.mark.anyio
async def test_claude_json_result_and_the_call_log(fake_cli: FakeCli, tmp_path) -> None:
    fake_cli.respond_claude(text='{"a":1}', session_id="s1", tokens=(10, 20))

    done = await run("claude", "--output-format", "json", "--print", "hello", cwd=tmp_path)

    assert done.returncode == 0
    assert done.stderr == b""
    assert len(done.stdout.decode().splitlines()) == 1
    [result] = lines(done.stdout)
    assert result["type"] == "result"
    assert result["is_error"] is False
    assert result["result"] == '{"a":1}'
    assert result["session_id"] == "s1"
    assert result["usage"]["input_tokens"] == 10
    assert result["usage"]["output_tokens"] == 20
    [call] = fake_cli.calls("claude")
    assert call.args == ("--output-format", "json", "--print", "hello")
    assert call.prompt == "hello"
    assert call.call_index == 0
    assert call.pid not in (os.getpid(), 0)
    assert call.cwd == str(tmp_path)
    assert call.stdin_kind == "devnull"
    assert fake_cli.calls("codex") == []


@pytest.mark.anyio
async def test_claude_stream_json_lines(fake_cli: FakeCli) -> None:
    fake_cli.respond_claude("answer", session_id="sess-abc", tokens=(100, 200), stream=True)

    done = await run("claude", "--print", "go")

    events = lines(done.stdout)
    assert [(e["type"], e.get("subtype")) for e in events] == [
        ("system", "init"),
        ("assistant", None),
        ("result", "success"),
    ]
    assert {e["session_id"] for e in events} == {"sess-abc"}
    assert events[1]["message"]["content"] == [{"type": "text", "text": "answer"}]
    assert events[2]["result"] == "answer"
    assert (events[2]["usage"]["input_tokens"], events[2]["usage"]["output_tokens"]) == (100, 200)


@pytest.mark.anyio
async def test_claude_is_error_result_still_exits_zero(fake_cli: FakeCli) -> None:
    fake_cli.respond_claude("something broke", is_error=True, session_id=None)

    done = await run("claude", "--print", "x")

    assert done.returncode == 0
    [result] = lines(done.stdout)
    assert result["is_error"] is True
    assert "session_id" not in result


@pytest.mark.anyio
async def test_responses_play_in_order_and_the_last_repeats(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", raw_text("plain answer\n"), hitl_prompt(), claude_json("done"))

    outputs = [(await run("claude", "--print", f"p{i}")).stdout for i in range(4)]

    assert outputs[0] == b"plain answer\n"
    assert outputs[1] == b"Do you want to proceed? [y/n]"
    assert lines(outputs[2])[0]["result"] == "done"
    assert outputs[3] == outputs[2]
    assert [c.call_index for c in fake_cli.calls("claude")] == [0, 1, 2, 3]
    assert [c.prompt for c in fake_cli.calls("claude")] == ["p0", "p1", "p2", "p3"]


@pytest.mark.anyio
async def test_routes_win_over_the_sequence(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", raw_text("default"))
    fake_cli.route("claude", "analy[sz]e|codebase", raw_text("issues"))
    fake_cli.route("claude", "fix", raw_text("patch"), on="user_prompt")
    fake_cli.route("claude", "--resume", raw_text("resumed"), on="argv")

    async def answer(*argv: str) -> bytes:
        return (await run("claude", *argv)).stdout

    assert await answer("--print", "ANALYZE the repo") == b"issues"
    assert await answer("--print", "please fix it") == b"patch"
    # The system prompt mentions "fix", but only the user part after the separator counts.
    assert await answer("--print", "Never fix blindly.\n\n---\n\nevaluate the patch") == b"default"
    assert await answer("--resume", "s1", "--print", "continue") == b"resumed"


@pytest.mark.anyio
async def test_failure_exit_code_and_stderr(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", failure(2, stderr="authentication failed\n"))

    done = await run("claude", "--print", "x")

    assert done.returncode == 2
    assert done.stderr == b"authentication failed\n"
    assert done.stdout == b""


@pytest.mark.anyio
async def test_rate_limit(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", claude_rate_limited(reset_at=1234))

    done = await run("claude", "--print", "x")

    assert done.returncode == 1
    assert b"rate_limit_error" in done.stderr
    [result] = lines(done.stdout)
    assert result["is_error"] is True
    assert result["result"] == "Claude AI usage limit reached|1234"


@pytest.mark.anyio
async def test_codex_event_stream(fake_cli: FakeCli) -> None:
    fake_cli.respond(
        "codex",
        codex_exec(
            "Final answer",
            thread_id="thread-42",
            tokens=(50, 10),
            items=[codex_item("reasoning", "thinking"), codex_item("tool_call", "ls", item_id="t")],
        ),
    )

    done = await run(
        "codex", "exec", "--json", "-c", "mcp_servers.a.command=x", "-c", "k=v", "do it"
    )

    events = lines(done.stdout)
    assert [e["type"] for e in events] == [
        "thread.started",
        "turn.started",
        "item.completed",
        "item.completed",
        "item.completed",
        "turn.completed",
    ]
    assert events[0]["thread_id"] == "thread-42"
    assert [e["item"]["type"] for e in events[2:5]] == ["reasoning", "tool_call", "agent_message"]
    assert events[4]["item"]["text"] == "Final answer"
    assert events[5]["usage"] == {"input_tokens": 50, "cached_input_tokens": 0, "output_tokens": 10}
    [call] = fake_cli.calls("codex")
    assert call.args[:2] == ("exec", "--json")
    assert call.flag_values("-c") == ["mcp_servers.a.command=x", "k=v"]
    assert call.flag_value("--model") is None


@pytest.mark.anyio
async def test_codex_respond_shortcut_and_error_events(fake_cli: FakeCli) -> None:
    fake_cli.respond_codex("hi", thread_id=None, tokens=(1, 2))
    ok = lines((await run("codex", "exec", "--json", "a")).stdout)
    assert [e["type"] for e in ok][0] == "turn.started"  # no thread.started at all
    assert ok[-2]["item"] == {"id": "item_0", "type": "agent_message", "text": "hi"}

    fake_cli.respond("codex", codex_error("model overloaded", exit_code=3))
    done = await run("codex", "exec", "--json", "b")

    assert done.returncode == 3
    assert done.stderr == b"Error: model overloaded\n"
    events = lines(done.stdout)
    assert events[2] == {"type": "error", "message": "model overloaded"}
    assert events[3] == {"type": "turn.failed", "error": {"message": "model overloaded"}}


@pytest.mark.anyio
async def test_version_probe(fake_cli: FakeCli) -> None:
    assert (await run("claude", "--version")).stdout == b"2.0.0 (Claude Code)\n"
    assert (await run("codex", "--version")).stdout == b"codex-cli 0.59.0\n"

    fake_cli.set_version("codex", "0.59.0 (29a7fe0d)")
    assert (await run("codex", "--version")).stdout == b"0.59.0 (29a7fe0d)\n"

    fake_cli.set_version("claude", failure(1, stderr="broken install\n"))
    broken = await run("claude", "--version")
    assert (broken.returncode, broken.stderr) == (1, b"broken install\n")

    # Version probes are logged apart and do not use up the scripted answers.
    assert fake_cli.calls() == []
    assert [c.kind for c in fake_cli.calls(kind=None)] == ["version"] * 4
    fake_cli.respond("claude", raw_text("first"), raw_text("second"))
    assert (await run("claude", "--print", "x")).stdout == b"first"


@pytest.mark.anyio
async def test_hang_until_killed_and_the_pid_is_gone(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", hang(stdout="working\n"))

    async with await anyio.open_process(
        ["claude", "--print", "x"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        await read_until(proc.stdout, b"working\n")
        with anyio.move_on_after(0.3) as waited:
            await proc.wait()
        assert waited.cancelled_caught, "a hanging fake must not exit on its own"
        proc.terminate()
        assert await proc.wait() == -signal.SIGTERM

    [call] = fake_cli.calls("claude")
    assert call.pid == proc.pid
    assert not pid_alive(call.pid)


@pytest.mark.anyio
async def test_hang_that_ignores_sigterm_needs_sigkill(fake_cli: FakeCli) -> None:
    fake_cli.respond("codex", hang(stdout="busy\n", ignore_sigterm=True))

    async with await anyio.open_process(
        ["codex", "exec", "--json", "x"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        await read_until(proc.stdout, b"busy\n")
        proc.terminate()
        with anyio.move_on_after(0.3) as waited:
            await proc.wait()
        assert waited.cancelled_caught, "SIGTERM should have been ignored"
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL

    assert not pid_alive(fake_cli.calls("codex")[0].pid)


@pytest.mark.anyio
async def test_negative_exit_code_is_a_death_by_signal(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", FakeResponse(stdout="partial", exit_code=-signal.SIGTERM))

    done = await run("claude", "--print", "x")

    assert done.returncode == -signal.SIGTERM
    assert done.stdout == b"partial"


@pytest.mark.anyio
async def test_bytes_that_are_not_utf8_pass_unchanged(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", FakeResponse(stdout=b"ok \xff\xfe", stderr=b"\xc3("))

    done = await run("claude", "--print", "x")

    assert (done.stdout, done.stderr) == (b"ok \xff\xfe", b"\xc3(")


@pytest.mark.anyio
async def test_concurrent_calls_each_take_their_own_turn(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", *(raw_text(f"answer-{i}") for i in range(4)))
    outputs: list[bytes] = []

    async def one(i: int) -> None:
        outputs.append((await run("claude", "--print", f"p{i}")).stdout)

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(one, i)

    assert sorted(outputs) == [b"answer-0", b"answer-1", b"answer-2", b"answer-3"]
    assert {c.call_index for c in fake_cli.calls("claude")} == {0, 1, 2, 3}


@pytest.mark.anyio
async def test_env_and_stdin_recording(fake_cli: FakeCli, monkeypatch) -> None:
    monkeypatch.setenv("AGEFLOW_TEST_TOKEN", "tok")
    fake_cli.record_env("AGEFLOW_TEST_TOKEN", "AGEFLOW_TEST_UNSET")
    fake_cli.record_stdin()

    await run("claude", "--print", "x", input=b"payload")

    [call] = fake_cli.calls("claude")
    assert call.env == {"AGEFLOW_TEST_TOKEN": "tok", "AGEFLOW_TEST_UNSET": None}
    assert call.stdin_kind == "pipe"
    assert call.stdin == "payload"


@pytest.mark.anyio
async def test_script_path_is_baked_in_when_the_env_var_is_absent(fake_cli: FakeCli) -> None:
    fake_cli.respond("claude", raw_text("from the baked-in script"))
    env = {"PATH": fake_cli.path_with_bin()}  # no AGEFLOW_FAKE_CLI_CONFIG

    done = await run("claude", "--print", "x", env=env)

    assert done.stdout == b"from the baked-in script"


@pytest.mark.anyio
async def test_program_is_chosen_by_argv0_and_unknown_names_fail(fake_cli: FakeCli) -> None:
    # The same program under a name that has no script.
    (fake_cli.bin_dir / "gemini").symlink_to(fake_cli.bin_dir / "claude")

    done = await run("gemini", "--print", "x")

    assert done.returncode == EXIT_NO_SCRIPT
    assert b"no script for program 'gemini'" in done.stderr

    missing = await run("claude", "--print", "x", env={**os.environ, CONFIG_ENV: "/nonexistent"})
    assert missing.returncode == EXIT_NO_SCRIPT


def test_setters_reject_unknown_programs_and_bad_patterns(fake_cli: FakeCli) -> None:
    with pytest.raises(ValueError, match="no fake installed"):
        fake_cli.respond("gemini", raw_text("x"))
    with pytest.raises(ValueError, match="at least one"):
        fake_cli.respond("claude")
    with pytest.raises(Exception, match="unterminated"):
        fake_cli.route("claude", "(unclosed", raw_text("x"))
