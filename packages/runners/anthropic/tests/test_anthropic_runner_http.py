"""AnthropicRunner over real HTTP against FakeAnthropic: request shape, sessions, usage
(cache tokens included), validate, and how failures are typed for the retry policy."""

from __future__ import annotations

import anyio
import pytest

from ageflow.core.runner import RunnerSpawnArgs
from ageflow.runners.anthropic import (
    AnthropicAuthenticationError,
    AnthropicBadRequestError,
    AnthropicNotConfiguredError,
    AnthropicOverloadedError,
    AnthropicProviderUnavailableError,
    AnthropicRateLimitError,
    AnthropicRequestError,
    AnthropicRunner,
    ApiConnectionError,
    ApiTimeoutError,
    InMemorySessionStore,
)
from ageflow.runners.api import ApiRequestError
from ageflow.testing.fake_anthropic import FakeAnthropic, Scripted

from .conftest import KEY

pytestmark = pytest.mark.anyio


def runner_for(fake: FakeAnthropic, **kwargs: object) -> AnthropicRunner:
    options: dict[str, object] = {"api_key": KEY, "base_url": fake.base_url, "model": "m1"}
    options.update(kwargs)
    return AnthropicRunner(**options)  # type: ignore[arg-type]


async def test_plain_answer(fake_anthropic):
    fake_anthropic.reply("hello world", usage=(4, 3))
    async with runner_for(fake_anthropic) as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="hi"))
    assert result.stdout == "hello world"
    assert (result.tokens_in, result.tokens_out) == (4, 3)
    assert result.session_handle
    assert result.tool_calls == []
    assert result.stop_reason == "end_turn"
    (request,) = fake_anthropic.message_requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.header_values("anthropic-version")  # the SDK's API version
    assert request.body == {
        "max_tokens": 8192,
        "messages": [{"role": "user", "content": "hi"}],
        "model": "m1",
    }


async def test_system_prompt_is_the_system_field_never_a_message(fake_anthropic):
    fake_anthropic.reply("ok")
    async with runner_for(fake_anthropic, max_tokens=64) as runner:
        await runner.spawn(RunnerSpawnArgs(prompt="p", system_prompt="be brief", model="agent-m"))
    body = fake_anthropic.message_requests[0].body
    assert body["system"] == "be brief"
    assert body["model"] == "agent-m"
    assert body["max_tokens"] == 64
    assert all(m["role"] != "system" for m in body["messages"])
    assert "cache_control" not in str(body)


async def test_prompt_caching_marks_system_and_last_tool(fake_anthropic, mcp_config_factory):
    fake_anthropic.reply(
        "cached",
        usage={
            "input_tokens": 5,
            "output_tokens": 2,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 1000,
        },
    )
    async with runner_for(fake_anthropic, cache_prompt=True) as runner:
        result = await runner.spawn(
            RunnerSpawnArgs(
                prompt="p", system_prompt="long instructions", mcp_servers=[mcp_config_factory()]
            )
        )
    body = fake_anthropic.message_requests[0].body
    assert body["system"] == [
        {"type": "text", "text": "long instructions", "cache_control": {"type": "ephemeral"}}
    ]
    assert [t["name"] for t in body["tools"]] == ["mcp__mock__echo"]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    # Every prompt token counts towards tokens_in (and so the cost estimate).
    assert result.tokens_in == 1105
    assert (result.cache_creation_input_tokens, result.cache_read_input_tokens) == (100, 1000)
    assert result.tokens_out == 2


async def test_missing_model_fails_before_io(fake_anthropic):
    async with runner_for(fake_anthropic, model=None) as runner:
        with pytest.raises(ValueError, match="model not set"):
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert fake_anthropic.requests == []


async def test_key_from_environment_or_a_typed_error(fake_anthropic, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    async with runner_for(fake_anthropic, api_key=None) as runner:
        with pytest.raises(AnthropicNotConfiguredError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
        assert info.value.code == "anthropic_not_configured"
        assert not (await runner.validate()).ok
    assert fake_anthropic.requests == []

    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    fake_anthropic.reply("from env")
    async with runner_for(fake_anthropic, api_key=None) as runner:
        assert (await runner.spawn(RunnerSpawnArgs(prompt="p"))).stdout == "from env"


async def test_session_continues_and_saves_only_user_and_assistant_turns(fake_anthropic):
    store = InMemorySessionStore()
    fake_anthropic.reply("first answer")
    fake_anthropic.reply("second answer")
    async with runner_for(fake_anthropic, session_store=store) as runner:
        first = await runner.spawn(RunnerSpawnArgs(prompt="one", system_prompt="old"))
        second = await runner.spawn(
            RunnerSpawnArgs(prompt="two", system_prompt="new", session_handle=first.session_handle)
        )
    assert second.session_handle == first.session_handle
    body = fake_anthropic.message_requests[1].body
    assert body["system"] == "new"
    assert body["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [{"type": "text", "text": "first answer"}]},
        {"role": "user", "content": "two"},
    ]
    stored = await store.get(first.session_handle)
    assert stored is not None and [m["role"] for m in stored] == ["user", "assistant"] * 2


async def test_unknown_handle_starts_fresh_and_failed_turn_saves_nothing(fake_anthropic):
    fake_anthropic.reply("hi")
    fake_anthropic.error(400, "bad")
    async with runner_for(fake_anthropic) as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="p", session_handle="mine"))
        assert result.session_handle == "mine"
        assert len(fake_anthropic.message_requests[0].body["messages"]) == 1
        with pytest.raises(AnthropicBadRequestError):
            await runner.spawn(RunnerSpawnArgs(prompt="p", session_handle="other"))
        assert await runner.session_store.get("other") is None
        assert await runner.session_store.get("mine") is not None


async def test_text_blocks_join_thinking_is_kept_for_replay(fake_anthropic):
    fake_anthropic.respond(
        [
            {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
            {"type": "text", "text": "part one, "},
            {"type": "text", "text": "part two"},
        ],
        stop_reason="max_tokens",
        usage=None,
    )
    fake_anthropic.reply("again")
    async with runner_for(fake_anthropic, thinking_budget_tokens=2048) as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="p", session_handle="s"))
        await runner.spawn(RunnerSpawnArgs(prompt="q", session_handle="s"))
    assert result.stdout == "part one, part two"
    assert result.stop_reason == "max_tokens"
    assert (result.tokens_in, result.tokens_out) == (0, 0)  # no usage counts zero
    first, second = fake_anthropic.message_requests
    assert first.body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    replayed = second.body["messages"][1]["content"][0]
    assert replayed == {"type": "thinking", "thinking": "hmm", "signature": "sig-1"}


# -- error classification ---------------------------------------------------------------


async def test_401_is_a_typed_auth_error(fake_anthropic):
    fake_anthropic.reply("never sent")
    async with runner_for(fake_anthropic, api_key="sk-wrong") as runner:
        with pytest.raises(AnthropicAuthenticationError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    err = info.value
    assert err.code == "anthropic_auth_failed"
    assert err.status == 401
    assert "authentication_error" in str(err)
    assert str(err).startswith("Anthropic API request failed (401): ")
    assert len(fake_anthropic.messages_script) == 1  # the scripted answer is still there
    # One of the API runner's HTTP errors, with its JSON form.
    assert isinstance(err, ApiRequestError)
    assert err.to_json()["code"] == "anthropic_auth_failed"
    assert err.to_json()["status"] == 401


async def test_429_is_rate_limit_with_retry_after(fake_anthropic):
    fake_anthropic.error(429, "slow down", headers={"retry-after": "7"})
    async with runner_for(fake_anthropic) as runner:
        with pytest.raises(AnthropicRateLimitError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert (info.value.code, info.value.retry_after_s) == ("rate_limit", 7.0)
    assert len(fake_anthropic.message_requests) == 1  # the SDK's own retries are off


async def test_529_is_overloaded_and_other_5xx_unavailable(fake_anthropic):
    fake_anthropic.overloaded(retry_after="2")
    fake_anthropic.error(503, "down")
    fake_anthropic.error(418, "teapot")
    async with runner_for(fake_anthropic) as runner:
        with pytest.raises(AnthropicOverloadedError) as overloaded:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
        with pytest.raises(AnthropicProviderUnavailableError) as down:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
        with pytest.raises(AnthropicRequestError) as other:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert overloaded.value.code == "provider_unavailable"
    assert overloaded.value.status == 529 and overloaded.value.retry_after_s == 2.0
    assert "overloaded_error" in str(overloaded.value)
    assert down.value.code == "provider_unavailable"
    assert type(other.value) is AnthropicRequestError
    assert other.value.code == "anthropic_request_failed"


async def test_malformed_json_body_is_reported_clearly(fake_anthropic):
    fake_anthropic.raw(200, '{"content": [')
    fake_anthropic.messages_script.append(Scripted(body={"type": "message", "role": "assistant"}))
    async with runner_for(fake_anthropic) as runner:
        with pytest.raises(AnthropicRequestError, match="invalid JSON body") as bad_json:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
        with pytest.raises(AnthropicRequestError, match="no content list"):
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert bad_json.value.status == 200


async def test_request_deadline_is_a_timeout(fake_anthropic):
    fake_anthropic.hang()
    async with runner_for(fake_anthropic, timeout_s=0.3) as runner:
        with pytest.raises(ApiTimeoutError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.code == "timeout"


async def test_unreachable_server_is_provider_unavailable(fake_anthropic):
    fake_anthropic.close()  # nothing listens on the port any more
    async with runner_for(fake_anthropic) as runner:
        with pytest.raises(ApiConnectionError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.code == "provider_unavailable"


async def test_cancelling_a_run_closes_the_connection(fake_anthropic):
    fake_anthropic.hang()
    async with runner_for(fake_anthropic) as runner, anyio.create_task_group() as tg:
        finished = anyio.Event()

        async def run() -> None:
            try:
                await runner.spawn(RunnerSpawnArgs(prompt="p", session_handle="c"))
            finally:
                finished.set()

        tg.start_soon(run)
        assert await anyio.to_thread.run_sync(fake_anthropic.wait_for_requests, 1)
        tg.cancel_scope.cancel()
    assert finished.is_set()
    # The server sees the client go away: the request in flight was really closed.
    assert await anyio.to_thread.run_sync(fake_anthropic.disconnected.wait, 10)
    assert await runner.session_store.get("c") is None


# -- validate -----------------------------------------------------------------------------


async def test_validate_lists_models_without_a_billable_call(fake_anthropic):
    async with runner_for(fake_anthropic) as runner:
        result = await runner.validate()
    assert result.ok and result.version == "claude-sonnet-4-6"
    (request,) = fake_anthropic.requests
    assert request.method == "GET" and request.path.startswith("/v1/models")
    assert fake_anthropic.message_requests == []


async def test_validate_never_raises(fake_anthropic):
    async with runner_for(fake_anthropic, api_key="wrong") as runner:
        result = await runner.validate()
    assert not result.ok and "401" in (result.error or "")

    fake_anthropic.models_response = Scripted(hang=True)
    async with runner_for(fake_anthropic, timeout_s=0.3) as runner:
        result = await runner.validate()
    assert not result.ok and "timed out" in (result.error or "")

    fake_anthropic.close()
    async with runner_for(fake_anthropic) as runner:
        result = await runner.validate()
    assert not result.ok and result.error


def test_repr_hides_the_key_and_options_are_checked():
    runner = AnthropicRunner(api_key="sk-secret", model="m")
    assert "sk-secret" not in repr(runner)
    for bad in ({"max_tool_rounds": 0}, {"timeout_s": 0}, {"max_tokens": 0}):
        with pytest.raises(ValueError):
            AnthropicRunner(api_key="k", **bad)  # type: ignore[arg-type]


async def test_default_headers_are_sent_and_sdk_retries_only_when_asked(fake_anthropic):
    fake_anthropic.error(529, "Overloaded", headers={"retry-after-ms": "1"})
    fake_anthropic.reply("after the SDK's own retry")
    async with runner_for(
        fake_anthropic, max_retries=1, default_headers={"anthropic-beta": "x-test"}
    ) as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert result.stdout == "after the SDK's own retry"
    assert len(fake_anthropic.message_requests) == 2
    assert all(
        r.header_values("anthropic-beta") == ["x-test"] for r in fake_anthropic.message_requests
    )
