"""ClaudeRunner against the fake ``claude`` of ageflow-testing, through real subprocesses."""

from __future__ import annotations

import json
import re
import time

import anyio
import pytest

from ageflow.core import (
    AgentHitlConflictError,
    CliNotFoundError,
    EnvConfig,
    InlineToolDef,
    InlineToolsNotSupportedError,
    McpServerConfig,
    RunnerSpawnArgs,
    TaskTimeoutError,
)
from ageflow.runners.claude import (
    ClaudeRateLimitError,
    ClaudeRunner,
    ClaudeSubprocessError,
    build_argv,
)
from ageflow.testing.fake_cli import (
    FakeResponse,
    claude_assistant,
    claude_init,
    claude_json,
    claude_rate_limited,
    claude_result,
    claude_stream,
    failure,
    hang,
    hitl_prompt,
    jsonl,
    raw_text,
)
from ageflow.testing.processes import process_gone

pytestmark = pytest.mark.anyio


async def spawn(**fields):
    fields.setdefault("prompt", "hi")
    return await ClaudeRunner().spawn(RunnerSpawnArgs(**fields))


# --- argv as the child receives it ---------------------------------------------------


async def test_child_receives_the_built_argv_and_no_stdin(fake_cli) -> None:
    args = RunnerSpawnArgs(
        prompt="P",
        model="sonnet",
        tools=["Read"],
        session_handle="s0",
        permissions={"Bash": False},
        mcp_servers=[McpServerConfig(name="fs", command="npx", tools=["read_file"])],
        system_prompt="S",
    )
    await ClaudeRunner().spawn(args)
    call = fake_cli.calls("claude")[0]
    # argv[0] is the script path the fake was run as; every argument must match.
    assert list(call.args) == build_argv(args)[1:]
    assert call.flag_value("--allowedTools") == "Read,mcp__fs__read_file"
    assert call.prompt == "S\n\n---\n\nP"
    assert call.stdin_kind == "devnull"


async def test_deny_all_reaches_the_child(fake_cli) -> None:
    await spawn(tools=[])
    call = fake_cli.calls("claude")[0]
    assert call.flag_value("--tools") == ""
    assert "--allowedTools" not in call.argv


# --- output shapes -------------------------------------------------------------------


async def test_json_result(fake_cli) -> None:
    fake_cli.respond_claude('{"a":1}', session_id="sess-abc", tokens=(100, 200))
    result = await spawn()
    assert result.stdout == '{"a":1}'
    assert result.session_handle == "sess-abc"
    assert (result.tokens_in, result.tokens_out) == (100, 200)
    assert result.tool_calls is None


async def test_stream_json_lines(fake_cli) -> None:
    fake_cli.respond("claude", claude_stream("streamed", session_id="s-2", tokens=(7, 8)))
    result = await spawn()
    assert (result.stdout, result.session_handle, result.tokens_in, result.tokens_out) == (
        "streamed",
        "s-2",
        7,
        8,
    )


async def test_verbose_json_array(fake_cli) -> None:
    messages = [
        claude_init(session_id="s-3"),
        claude_assistant("ans", session_id="s-3"),
        claude_result("ans", session_id="s-3", tokens=(3, 4)),
    ]
    fake_cli.respond("claude", FakeResponse(stdout=json.dumps(messages, indent=2)))
    result = await spawn()
    assert (result.stdout, result.session_handle, result.tokens_in) == ("ans", "s-3", 3)


async def test_last_result_line_wins(fake_cli) -> None:
    lines = [claude_result("first", session_id="one"), claude_result("second", session_id="two")]
    fake_cli.respond("claude", FakeResponse(stdout=jsonl(lines)))
    result = await spawn()
    assert (result.stdout, result.session_handle) == ("second", "two")


async def test_result_without_session_id(fake_cli) -> None:
    fake_cli.respond_claude("x", session_id=None)
    assert (await spawn()).session_handle == ""


async def test_raw_text_is_returned_verbatim(fake_cli) -> None:
    fake_cli.respond("claude", raw_text('plain answer {"a": 1}\n'))
    result = await spawn()
    assert result.stdout == 'plain answer {"a": 1}\n'
    assert (result.session_handle, result.tokens_in, result.tokens_out) == ("", 0, 0)


async def test_invalid_utf8_is_replaced(fake_cli) -> None:
    fake_cli.respond("claude", FakeResponse(stdout=b"caf\xff\n"))
    assert (await spawn()).stdout == "caf\ufffd\n"


# --- errors --------------------------------------------------------------------------


async def test_nonzero_exit_raises_with_stderr_tail(fake_cli) -> None:
    fake_cli.respond("claude", failure(2, stderr="noise\n" * 1000 + "authentication failed\n"))
    with pytest.raises(ClaudeSubprocessError) as caught:
        await spawn()
    error = caught.value
    assert error.code == "subprocess_error"
    assert error.exit_code == 2
    assert str(error).startswith("Claude subprocess exited with code 2: ")
    assert str(error).endswith("authentication failed")
    assert len(str(error)) < 2200


async def test_nonzero_exit_without_stderr_quotes_the_result(fake_cli) -> None:
    fake_cli.respond("claude", claude_json("Invalid API key", is_error=True, exit_code=1))
    with pytest.raises(ClaudeSubprocessError, match="Invalid API key"):
        await spawn()


async def test_death_by_signal_is_a_subprocess_error(fake_cli) -> None:
    fake_cli.respond("claude", failure(-9))
    with pytest.raises(ClaudeSubprocessError) as caught:
        await spawn()
    assert caught.value.exit_code == -9


async def test_is_error_with_exit_zero_is_an_error(fake_cli) -> None:
    # Gap 12 fixed: an error result is not an answer.
    fake_cli.respond_claude("Reached max turns", is_error=True)
    with pytest.raises(ClaudeSubprocessError, match=r"result is an error.*Reached max turns"):
        await spawn()


async def test_rate_limit(fake_cli) -> None:
    reset_at = int(time.time()) + 120
    fake_cli.respond("claude", claude_rate_limited(reset_at=reset_at))
    with pytest.raises(ClaudeRateLimitError) as caught:
        await spawn()
    assert caught.value.code == "rate_limit"
    assert 100 < caught.value.retry_after_s <= 120
    assert "subprocess" not in str(caught.value)


async def test_rate_limit_without_reset_time(fake_cli) -> None:
    fake_cli.respond("claude", failure(1, stderr="API Error: 429 Too Many Requests"))
    with pytest.raises(ClaudeRateLimitError) as caught:
        await spawn()
    assert caught.value.retry_after_s is None


async def test_permission_prompts_raise_hitl_conflict(fake_cli) -> None:
    for question in ("Do you want to proceed? [y/n]", "Continue? (Y/n)"):
        fake_cli.respond("claude", hitl_prompt(question))
        with pytest.raises(AgentHitlConflictError) as caught:
            await spawn()
        assert caught.value.task_name == "unknown"


async def test_bare_prompt_line_wins_over_a_result(fake_cli) -> None:
    stdout = "Proceed? [y/n]\n" + jsonl([claude_result("ok")])
    fake_cli.respond("claude", FakeResponse(stdout=stdout))
    with pytest.raises(AgentHitlConflictError):
        await spawn()


async def test_y_n_inside_the_answer_is_not_a_prompt(fake_cli) -> None:
    fake_cli.respond_claude("Reply [y/n] to confirm")
    assert (await spawn()).stdout == "Reply [y/n] to confirm"


async def test_inline_tools_are_refused_before_launch(fake_cli) -> None:
    tool = InlineToolDef(description="d", parameters=dict, execute=lambda a: a)
    with pytest.raises(InlineToolsNotSupportedError):
        await spawn(inline_tools={"t": tool})
    assert fake_cli.calls("claude") == []


async def test_missing_executable(fake_cli) -> None:
    runner = ClaudeRunner(executable="claude-not-installed-xyz")
    with pytest.raises(CliNotFoundError) as caught:
        await runner.spawn(RunnerSpawnArgs(prompt="x"))
    assert "claude-not-installed-xyz" in str(caught.value)
    assert "@anthropic-ai/claude-code" in str(caught.value)


# --- timeout and cancellation --------------------------------------------------------


async def test_timeout_kills_the_child(fake_cli) -> None:
    fake_cli.respond("claude", hang(stdout="partial"))
    with pytest.raises(TaskTimeoutError) as caught:
        await spawn(timeout_ms=500, task_name="review")
    assert (caught.value.task_name, caught.value.timeout_ms) == ("review", 500)
    assert process_gone(fake_cli.calls("claude")[0].pid)


async def test_timeout_escalates_when_sigterm_is_ignored(fake_cli) -> None:
    fake_cli.respond("claude", hang(ignore_sigterm=True))
    runner = ClaudeRunner(kill_grace_s=0.2)
    with pytest.raises(TaskTimeoutError):
        await runner.spawn(RunnerSpawnArgs(prompt="x", timeout_ms=500))
    assert process_gone(fake_cli.calls("claude")[0].pid)


async def test_cancellation_kills_the_child(fake_cli, fake_cli_pids) -> None:
    fake_cli.respond("claude", hang())
    async with anyio.create_task_group() as group:
        group.start_soon(spawn)
        pid = await fake_cli_pids.next_pid()
        group.cancel_scope.cancel()
    assert process_gone(pid)


# --- environment ---------------------------------------------------------------------


async def test_env_scrub_and_pass(fake_cli, monkeypatch) -> None:
    monkeypatch.setenv("AGEFLOW_T_KEEP", "keep")
    monkeypatch.setenv("AGEFLOW_T_SECRET", "secret")
    monkeypatch.setenv("AGEFLOW_T_API_KEY", "key")
    monkeypatch.setenv("AGEFLOW_T_OTHER_KEY", "other")
    fake_cli.record_env(
        "AGEFLOW_T_KEEP", "AGEFLOW_T_SECRET", "AGEFLOW_T_API_KEY", "AGEFLOW_T_OTHER_KEY"
    )
    env = EnvConfig(
        pass_vars=["AGEFLOW_T_API_KEY"],
        scrub=["AGEFLOW_T_SECRET", re.compile(r"_KEY$")],
    )
    await spawn(env=env)
    assert fake_cli.calls("claude")[0].env == {
        "AGEFLOW_T_KEEP": "keep",
        "AGEFLOW_T_SECRET": None,
        "AGEFLOW_T_API_KEY": "key",
        "AGEFLOW_T_OTHER_KEY": None,
    }


async def test_without_env_config_the_child_inherits(fake_cli, monkeypatch) -> None:
    monkeypatch.setenv("AGEFLOW_T_SECRET", "secret")
    fake_cli.record_env("AGEFLOW_T_SECRET")
    await spawn()
    assert fake_cli.calls("claude")[0].env == {"AGEFLOW_T_SECRET": "secret"}


# --- sessions ------------------------------------------------------------------------


async def test_session_resume_round_trip(fake_cli) -> None:
    fake_cli.respond(
        "claude",
        claude_json("one", session_id="sess-1"),
        claude_json("two", session_id="sess-1"),
    )
    runner = ClaudeRunner()
    first = await runner.spawn(RunnerSpawnArgs(prompt="start"))
    second = await runner.spawn(
        RunnerSpawnArgs(prompt="go on", session_handle=first.session_handle)
    )
    assert second.stdout == "two"
    calls = fake_cli.calls("claude")
    assert "--resume" not in calls[0].argv
    assert calls[1].flag_value("--resume") == "sess-1"


# --- validate ------------------------------------------------------------------------


async def test_validate_reports_the_version(fake_cli) -> None:
    fake_cli.set_version("claude", "Claude CLI 1.2.3")
    assert (await ClaudeRunner().validate()).model_dump() == {
        "ok": True,
        "version": "1.2.3",
        "error": None,
    }
    assert fake_cli.calls("claude", kind="version")[0].argv[1:] == ("--version",)


async def test_validate_failing_version(fake_cli) -> None:
    fake_cli.set_version("claude", failure(1, stderr="broken install"))
    result = await ClaudeRunner().validate()
    assert not result.ok
    assert result.error == "claude --version failed: broken install"


async def test_validate_missing_executable() -> None:
    result = await ClaudeRunner(executable="claude-not-installed-xyz").validate()
    assert not result.ok
    assert "not found on PATH" in result.error
    assert "npm install -g @anthropic-ai/claude-code" in result.error
