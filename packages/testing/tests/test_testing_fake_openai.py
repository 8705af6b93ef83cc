"""The fake OpenAI-compatible API, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from ageflow.testing import FakeOpenAI, tool_call


def post(url: str, body: Any, *, timeout: float = 5) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer sk-x"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_scripted_answers_come_in_order_and_requests_are_recorded(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.reply("first", usage=(7, 2))
    fake_openai.call_tools(tool_call("c1", "echo", {"text": "hi"}))
    url = f"{fake_openai.base_url}/chat/completions"

    status, body = post(url, {"model": "m", "messages": [{"role": "user", "content": "a"}]})
    assert status == 200
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "first"}
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 2}
    status, body = post(url, {"model": "m", "messages": []})
    (call,) = body["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "echo", "arguments": '{"text": "hi"}'}

    first = fake_openai.chat_requests[0]
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.header_values("Authorization") == ["Bearer sk-x"]
    assert first.body["messages"][0]["content"] == "a"
    assert len(fake_openai.chat_requests) == 2


def test_errors_an_empty_script_and_the_model_list(fake_openai: FakeOpenAI) -> None:
    fake_openai.error(429, "slow down", headers={"retry-after": "3"})
    url = f"{fake_openai.base_url}/chat/completions"
    assert post(url, {}) == (429, "slow down")
    status, _ = post(url, {})
    assert status == 500  # nothing scripted
    with urllib.request.urlopen(f"{fake_openai.base_url}/models", timeout=5) as response:
        assert [m["id"] for m in json.loads(response.read())["data"]] == ["gpt-4o", "gpt-4o-mini"]


def test_a_hanging_answer_ends_when_the_fake_closes() -> None:
    fake = FakeOpenAI()
    fake.hang()
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            post(f"{fake.base_url}/chat/completions", {}, timeout=10)
        except BaseException as exc:  # the connection ends without an answer
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    caller.join(0.3)
    assert caller.is_alive()  # no answer yet
    fake.close()
    caller.join(5)
    assert not caller.is_alive()
    assert outcome  # it ended without a response


def test_unscripted_use_after_close_is_refused() -> None:
    with FakeOpenAI() as fake:
        url = f"{fake.base_url}/chat/completions"
    with pytest.raises(OSError):
        post(url, {}, timeout=2)
