"""The fake Anthropic Messages API, over real HTTP on 127.0.0.1 (plain sockets, no SDK)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from ageflow.testing import FakeAnthropic, tool_use


def call(
    fake: FakeAnthropic,
    path: str = "/v1/messages",
    body: Any = None,
    *,
    key: str = "sk-ant",
    header: str = "x-api-key",
) -> tuple[int, Any, dict[str, str]]:
    value = f"Bearer {key}" if header == "authorization" else key
    request = urllib.request.Request(
        fake.base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", header: value},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_scripted_answers_in_order_with_usage_and_records():
    with FakeAnthropic() as fake:
        fake.reply(
            "first", usage={"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 9}
        )
        fake.use_tools(tool_use("tu_1", "echo", {"text": "hi"}), text="calling")
        fake.reply("no usage", usage=None)
        body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}]}

        status, text, _ = call(fake, body=body)
        first = json.loads(text)
        assert status == 200
        assert first["type"] == "message" and first["role"] == "assistant"
        assert first["content"] == [{"type": "text", "text": "first"}]
        assert first["stop_reason"] == "end_turn"
        assert first["usage"]["cache_read_input_tokens"] == 9

        second = json.loads(call(fake, body=body)[1])
        assert second["stop_reason"] == "tool_use"
        assert second["content"] == [
            {"type": "text", "text": "calling"},
            {"type": "tool_use", "id": "tu_1", "name": "echo", "input": {"text": "hi"}},
        ]
        assert "usage" not in json.loads(call(fake, body=body)[1])

        status, text, _ = call(fake, body=body)  # nothing scripted any more
        assert status == 500 and "script exhausted" in text
        assert len(fake.message_requests) == 4
        assert fake.message_requests[0].body == body
        assert fake.message_requests[0].header_values("X-API-KEY") == ["sk-ant"]


def test_errors_overloaded_and_raw_bodies():
    with FakeAnthropic() as fake:
        fake.error(429, "slow down", headers={"retry-after": "3"})
        fake.overloaded(retry_after="1")
        fake.error(400, "bad", error_type="custom_error")
        fake.raw(200, "{not json")
        status, text, headers = call(fake, body={})
        assert status == 429 and headers["retry-after"] == "3"
        assert json.loads(text) == {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": "slow down"},
        }
        status, text, headers = call(fake, body={})
        assert status == 529 and json.loads(text)["error"]["type"] == "overloaded_error"
        assert headers["retry-after"] == "1"
        assert json.loads(call(fake, body={})[1])["error"]["type"] == "custom_error"
        assert call(fake, body={})[:2] == (200, "{not json")


def test_api_key_check_accepts_either_header_and_keeps_the_script():
    with FakeAnthropic(api_key="sk-right") as fake:
        fake.reply("ok")
        status, text, _ = call(fake, body={}, key="sk-wrong")
        assert status == 401 and "authentication_error" in text
        assert call(fake, body={}, key="sk-right", header="authorization")[0] == 200
        assert len(fake.requests) == 2


def test_models_endpoint():
    with FakeAnthropic(model="claude-test") as fake:
        status, text, _ = call(fake, "/v1/models?limit=1")
        assert status == 200
        assert json.loads(text)["data"][0]["id"] == "claude-test"
        assert fake.message_requests == []


def test_a_hanging_answer_notices_the_client_leaving():
    with FakeAnthropic() as fake:
        fake.hang()
        payload = b"{}"
        with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as conn:
            conn.sendall(
                b"POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            assert fake.wait_for_requests(1)
            assert not fake.disconnected.is_set()
        assert fake.disconnected.wait(10)
