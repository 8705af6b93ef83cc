"""ApiRunner over real HTTP against the fake server: request shape, headers, sessions,
validate, and how HTTP failures are classified for the executor's retry policy."""

from __future__ import annotations

import time

import httpx
import pytest

from ageflow.core.runner import RunnerSpawnArgs
from ageflow.runners.api import (
    ApiConnectionError,
    ApiProviderUnavailableError,
    ApiRateLimitError,
    ApiRequestError,
    ApiRunner,
    ApiTimeoutError,
    InMemorySessionStore,
    parse_retry_after,
)
from ageflow.testing.fake_openai import Scripted

pytestmark = pytest.mark.anyio


async def test_plain_completion(fake_openai):
    fake_openai.reply("hello world", usage=(4, 3))
    async with ApiRunner(base_url=fake_openai.base_url, api_key="sk-test", model="m1") as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="hi"))
    assert result.stdout == "hello world"
    assert (result.tokens_in, result.tokens_out) == (4, 3)
    assert result.session_handle
    assert result.tool_calls == []
    assert len(fake_openai.chat_requests) == 1


async def test_request_shape_and_headers(fake_openai):
    fake_openai.reply("ok")
    runner = ApiRunner(
        base_url=fake_openai.base_url + "/",
        api_key="sk-real",
        model="default-model",
        headers={"authorization": "Bearer stolen", "AUTHORIZATION": "x", "X-Org": "acme"},
    )
    try:
        await runner.spawn(RunnerSpawnArgs(prompt="hi", system_prompt="be concise"))
    finally:
        await runner.shutdown()
    request = fake_openai.chat_requests[0]
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.header_values("authorization") == ["Bearer sk-real"]
    assert request.header_values("x-org") == ["acme"]
    assert request.header_values("content-type") == ["application/json"]
    # Key order and nothing extra: no tools key without tools, no sampling parameters.
    assert list(request.body) == ["model", "messages"]
    assert request.body["model"] == "default-model"
    assert request.body["messages"] == [
        {"role": "system", "content": "be concise"},
        {"role": "user", "content": "hi"},
    ]


async def test_agent_model_beats_default_and_missing_model_fails_before_io(fake_openai):
    fake_openai.reply("ok")
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="dflt") as runner:
        await runner.spawn(RunnerSpawnArgs(prompt="p", model="agent-model"))
    assert fake_openai.chat_requests[0].body["model"] == "agent-model"

    async with ApiRunner(base_url=fake_openai.base_url, api_key="k") as runner:
        with pytest.raises(ValueError, match="model not set"):
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert len(fake_openai.chat_requests) == 1


async def test_session_saved_and_resumed_with_new_system_prompt(fake_openai):
    store = InMemorySessionStore()
    fake_openai.reply("first answer")
    fake_openai.reply("second answer")
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", session_store=store
    ) as runner:
        first = await runner.spawn(RunnerSpawnArgs(prompt="one", system_prompt="old schema"))
        saved = await store.get(first.session_handle)
        assert saved is not None
        assert [m["role"] for m in saved] == ["system", "user", "assistant"]

        second = await runner.spawn(
            RunnerSpawnArgs(
                prompt="next", system_prompt="new schema", session_handle=first.session_handle
            )
        )
    assert second.session_handle == first.session_handle
    messages = fake_openai.chat_requests[1].body["messages"]
    assert messages == [
        {"role": "system", "content": "new schema"},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "next"},
    ]
    stored = await store.get(first.session_handle)
    assert stored is not None and stored[-1] == {"role": "assistant", "content": "second answer"}


async def test_unknown_handle_starts_fresh_and_is_kept(fake_openai):
    fake_openai.reply("hi")
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m") as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="p", session_handle="my-handle"))
        assert result.session_handle == "my-handle"
        assert len(fake_openai.chat_requests[0].body["messages"]) == 1
        assert await runner.session_store.get("my-handle") is not None


async def test_failed_turn_saves_nothing(fake_openai):
    fake_openai.error(400, "bad request")
    store = InMemorySessionStore()
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", session_store=store
    ) as runner:
        with pytest.raises(ApiRequestError):
            await runner.spawn(RunnerSpawnArgs(prompt="p", session_handle="h"))
    assert await store.get("h") is None


async def test_missing_usage_counts_zero_and_null_content_is_empty(fake_openai):
    fake_openai.reply(None, usage=None)
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m") as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert (result.stdout, result.tokens_in, result.tokens_out) == ("", 0, 0)


async def test_no_choices_is_an_api_error(fake_openai):
    fake_openai.chat_script.append(Scripted(body={"choices": []}))
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m") as runner:
        with pytest.raises(ApiRequestError, match="no choices in response") as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.code == "api_request_failed"


# -- error classification ---------------------------------------------------------------


async def test_429_is_rate_limit_with_retry_after(fake_openai):
    fake_openai.error(429, "slow down", headers={"Retry-After": "7"})
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m") as runner:
        with pytest.raises(ApiRateLimitError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    err = info.value
    assert err.code == "rate_limit"
    assert err.status == 429
    assert err.retry_after_s == 7.0
    assert str(err) == "API request failed (429): slow down"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_provider_unavailable(fake_openai, status):
    fake_openai.error(status, "down")
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m") as runner:
        with pytest.raises(ApiProviderUnavailableError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.code == "provider_unavailable"
    assert info.value.retry_after_s is None


async def test_4xx_is_not_retryable(fake_openai):
    fake_openai.error(401, '{"error":"bad key"}')
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m") as runner:
        with pytest.raises(ApiRequestError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert type(info.value) is ApiRequestError
    assert info.value.code == "api_request_failed"
    assert "bad key" in str(info.value)


async def test_request_deadline_is_a_timeout(fake_openai):
    fake_openai.hang()
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", timeout_s=0.3
    ) as runner:
        with pytest.raises(ApiTimeoutError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.code == "timeout"


async def test_unreachable_server_is_provider_unavailable(fake_openai):
    base_url = fake_openai.base_url
    fake_openai.close()  # nothing listens on the port any more
    async with ApiRunner(base_url=base_url, api_key="k", model="m") as runner:
        with pytest.raises(ApiConnectionError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.code == "provider_unavailable"


def test_parse_retry_after():
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-4") == 0.0
    now = time.time()
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 120))
    assert parse_retry_after(date, now=now) == pytest.approx(120, abs=1.5)
    past = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now - 120))
    assert parse_retry_after(past, now=now) == 0.0


# -- validate -----------------------------------------------------------------------------


async def test_validate_ok_reports_first_model(fake_openai):
    async with ApiRunner(base_url=fake_openai.base_url + "//", api_key="k") as runner:
        result = await runner.validate()
    assert result.ok and result.version == "gpt-4o"
    request = fake_openai.requests[0]
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.header_values("authorization") == ["Bearer k"]
    assert request.header_values("content-type") == []


async def test_validate_401(fake_openai):
    fake_openai.models_response = Scripted(status=401, body="no")
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k") as runner:
        result = await runner.validate()
    assert not result.ok
    assert result.error == "HTTP 401 Unauthorized"


async def test_validate_never_raises_on_network_error_or_hang(fake_openai):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("ECONNREFUSED", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    runner = ApiRunner(base_url="https://example.test/v1", api_key="k", http_client=client)
    result = await runner.validate()
    assert not result.ok and "ECONNREFUSED" in (result.error or "")
    await client.aclose()

    fake_openai.models_response = Scripted(hang=True)
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", timeout_s=0.3) as runner:
        result = await runner.validate()
    assert not result.ok and "timed out" in (result.error or "")


async def test_query_string_in_base_url_stays_at_the_end():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"data": []})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    runner = ApiRunner(
        base_url="https://az.test/openai/deployments/d/?api-version=2024-02-01",
        api_key="k",
        http_client=client,
    )
    assert (await runner.validate()).ok
    assert seen == ["https://az.test/openai/deployments/d/models?api-version=2024-02-01"]
    await runner.shutdown()
    assert not client.is_closed  # a client passed in belongs to the caller
    await client.aclose()


def test_repr_hides_the_key():
    runner = ApiRunner(base_url="https://x.test", api_key="sk-secret", model="m")
    assert "sk-secret" not in repr(runner)
