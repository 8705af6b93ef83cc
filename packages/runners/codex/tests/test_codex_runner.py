"""CodexRunner against the fake ``codex`` of ageflow-testing, through real subprocesses."""

from __future__ import annotations

import re

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
from ageflow.runners.codex import (
    CodexRateLimitError,
    CodexRunner,
    CodexSubprocessError,
    build_argv,
)
from ageflow.testing.fake_cli import (
    FakeResponse,
    codex_error,
    codex_events,
    codex_exec,
    codex_item,
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
    return await CodexRunner().spawn(RunnerSpawnArgs(**fields))


async def test_child_receives_the_built_argv_and_no_stdin(fake_cli) -> None:
    args = RunnerSpawnArgs(
        prompt="P",
        model="gpt-5",
        session_handle="thread-9",
        mcp_servers=[McpServerConfig(name="fs", command="npx", tools=["read_file"])],
        system_prompt="S",
    )
    await CodexRunner().spawn(args)
    call = fake_cli.calls("codex")[0]
    assert list(call.args) == build_argv(args)[1:]
    assert call.args[:2] == ("exec", "--json")
    assert call.flag_values("-c") == [
        "mcp_servers.fs.command=npx",
        'mcp_servers.fs.enabled_tools=["read_file"]',
    ]
    assert call.prompt == "S\n\n---\n\nP"
    assert call.stdin_kind == "devnull"


# --- output shapes -------------------------------------------------------------------


async def test_event_stream(fake_cli) -> None:
    fake_cli.respond_codex('{"a":1}', thread_id="thread-42", tokens=(100, 200))
    result = await spawn()
    assert result.stdout == '{"a":1}'
    assert result.session_handle == "thread-42"
    assert (result.tokens_in, result.tokens_out) == (100, 200)
    assert result.tool_calls is None


async def test_other_items_are_ignored_and_last_message_wins(fake_cli) -> None:
    items = [
        codex_item("tool_call", "ls", item_id="i0"),
        codex_item("reasoning", "thinking", item_id="i1"),
        codex_item("agent_message", "draft", item_id="i2"),
    ]
    fake_cli.respond("codex", codex_exec("Final answer", items=items, tokens=(50, 10)))
    result = await spawn()
    assert (result.stdout, result.tokens_in, result.tokens_out) == ("Final answer", 50, 10)


async def test_tokens_are_summed_over_turns(fake_cli) -> None:
    # Gap 20 fixed: two turn.completed events add up.
    events = codex_events("one", tokens=(10, 1)) + codex_events(None, tokens=(5, 2))
    fake_cli.respond("codex", FakeResponse(stdout=jsonl(events)))
    result = await spawn()
    assert (result.stdout, result.tokens_in, result.tokens_out) == ("one", 15, 3)


async def test_without_thread_started_the_handle_is_empty(fake_cli) -> None:
    fake_cli.respond_codex("x", thread_id=None)
    assert (await spawn()).session_handle == ""


async def test_no_agent_message_returns_raw_stdout(fake_cli) -> None:
    stdout = jsonl(codex_events(None, thread_id="t-1", tokens=(3, 4)))
    fake_cli.respond("codex", FakeResponse(stdout=stdout))
    result = await spawn()
    assert result.stdout == stdout
    assert (result.session_handle, result.tokens_in) == ("t-1", 3)


async def test_raw_text_and_empty_output(fake_cli) -> None:
    fake_cli.respond("codex", raw_text("just text\n"), FakeResponse(stdout=""))
    first = await spawn()
    assert (first.stdout, first.session_handle, first.tokens_in) == ("just text\n", "", 0)
    second = await spawn()
    assert (second.stdout, second.session_handle) == ("", "")


# --- errors --------------------------------------------------------------------------


async def test_nonzero_exit(fake_cli) -> None:
    fake_cli.respond("codex", failure(2, stderr="model not found"))
    with pytest.raises(CodexSubprocessError) as caught:
        await spawn()
    assert caught.value.code == "subprocess_error"
    assert caught.value.exit_code == 2
    assert str(caught.value) == "Codex subprocess exited with code 2: model not found"


async def test_error_events_with_exit_code(fake_cli) -> None:
    fake_cli.respond("codex", codex_error("stream disconnected"))
    with pytest.raises(CodexSubprocessError, match="stream disconnected"):
        await spawn()


async def test_failed_turn_with_exit_zero_is_an_error(fake_cli) -> None:
    response = codex_error("context window exceeded", exit_code=0)
    fake_cli.respond("codex", FakeResponse(stdout=response.stdout))
    with pytest.raises(CodexSubprocessError, match="the turn failed: context window exceeded"):
        await spawn()


async def test_rate_limit(fake_cli) -> None:
    fake_cli.respond(
        "codex", codex_error("exceeded retry limit, last status: 429 Too Many Requests")
    )
    with pytest.raises(CodexRateLimitError) as caught:
        await spawn()
    assert caught.value.code == "rate_limit"
    assert "429" in str(caught.value)


async def test_permission_prompts(fake_cli) -> None:
    for question in ("Run this command? [y/n]", "Apply patch? (Y/n)"):
        fake_cli.respond("codex", hitl_prompt(question))
        with pytest.raises(AgentHitlConflictError):
            await spawn()


async def test_y_n_in_the_answer_is_fine(fake_cli) -> None:
    fake_cli.respond_codex("type [y/n]")
    assert (await spawn()).stdout == "type [y/n]"


async def test_inline_tools_are_refused(fake_cli) -> None:
    tool = InlineToolDef(description="d", parameters=dict, execute=lambda a: a)
    with pytest.raises(InlineToolsNotSupportedError):
        await spawn(inline_tools={"t": tool})
    assert fake_cli.calls("codex") == []


async def test_missing_executable(fake_cli) -> None:
    with pytest.raises(CliNotFoundError, match="@openai/codex"):
        await CodexRunner(executable="codex-missing-xyz").spawn(RunnerSpawnArgs(prompt="x"))


# --- timeout, cancellation, environment ------------------------------------------------


async def test_timeout_kills_the_child(fake_cli) -> None:
    fake_cli.respond("codex", hang(stdout='{"type":"turn.started"}\n', ignore_sigterm=True))
    runner = CodexRunner(kill_grace_s=0.2)
    with pytest.raises(TaskTimeoutError) as caught:
        await runner.spawn(RunnerSpawnArgs(prompt="x", timeout_ms=500, task_name="t"))
    assert caught.value.task_name == "t"
    assert process_gone(fake_cli.calls("codex")[0].pid)


async def test_cancellation_kills_the_child(fake_cli, fake_cli_pids) -> None:
    fake_cli.respond("codex", hang())
    async with anyio.create_task_group() as group:
        group.start_soon(spawn)
        pid = await fake_cli_pids.next_pid()
        group.cancel_scope.cancel()
    assert process_gone(pid)


async def test_env_scrub_and_pass(fake_cli, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk")
    monkeypatch.setenv("AGEFLOW_T_TOKEN", "tok")
    monkeypatch.setenv("AGEFLOW_T_PLAIN", "plain")
    fake_cli.record_env("OPENAI_API_KEY", "AGEFLOW_T_TOKEN", "AGEFLOW_T_PLAIN")
    env = EnvConfig(pass_vars=["OPENAI_API_KEY"], scrub=[re.compile(r"KEY|TOKEN")])
    await spawn(env=env)
    assert fake_cli.calls("codex")[0].env == {
        "OPENAI_API_KEY": "sk",
        "AGEFLOW_T_TOKEN": None,
        "AGEFLOW_T_PLAIN": "plain",
    }


# --- sessions and validate -------------------------------------------------------------


async def test_session_resume_round_trip(fake_cli) -> None:
    fake_cli.respond(
        "codex", codex_exec("one", thread_id="th-1"), codex_exec("two", thread_id="th-1")
    )
    runner = CodexRunner()
    first = await runner.spawn(RunnerSpawnArgs(prompt="start"))
    await runner.spawn(RunnerSpawnArgs(prompt="more", session_handle=first.session_handle))
    first_call, second_call = fake_cli.calls("codex")
    assert "resume" not in first_call.argv
    assert second_call.args[-3:] == ("resume", "th-1", "more")


async def test_validate(fake_cli) -> None:
    fake_cli.set_version("codex", "0.59.0 (29a7fe0d-abc)")
    assert (await CodexRunner().validate()).version == "0.59.0"
    fake_cli.set_version("codex", failure(1, stderr="bad"))
    result = await CodexRunner().validate()
    assert (result.ok, result.error) == (False, "codex --version failed: bad")
    missing = await CodexRunner(executable="codex-missing-xyz").validate()
    assert not missing.ok
    assert "not found on PATH. Install via: npm install -g @openai/codex" in missing.error
