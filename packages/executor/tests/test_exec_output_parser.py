"""parse_agent_output: JSON extraction, strict validation, and the errors it raises."""

from __future__ import annotations

import datetime
import enum

import pytest
from pydantic import BaseModel, ConfigDict

from ageflow.executor.errors import OutputTooLargeError, OutputValidationError
from ageflow.executor.output_parser import extract_json_text, parse_agent_output


class Answer(BaseModel):
    answer: str
    score: float


class Count(BaseModel):
    count: int


class Flag(BaseModel):
    ok: bool


class Inner(BaseModel):
    x: int


class Outer(BaseModel):
    inner: Inner
    items: list[Inner]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int


class Color(enum.Enum):
    RED = "red"


class Rich(BaseModel):
    when: datetime.date
    pair: tuple[int, int]
    color: Color


def test_plain_json_object_becomes_a_model_instance():
    result = parse_agent_output('{"answer": "yes", "score": 0.5}', Answer, "t")
    assert isinstance(result, Answer)
    assert result == Answer(answer="yes", score=0.5)


def test_json_fence_is_parsed():
    stdout = '```json\n{"answer": "a", "score": 1.5}\n```'
    assert parse_agent_output(stdout, Answer, "t") == Answer(answer="a", score=1.5)


def test_bare_fence_is_parsed():
    stdout = '```\n{"answer": "b", "score": 2}\n```'
    assert parse_agent_output(stdout, Answer, "t") == Answer(answer="b", score=2.0)


def test_fence_after_prose_is_parsed():
    stdout = 'Here is my answer:\n```json\n{"answer": "c", "score": 3}\n```'
    assert parse_agent_output(stdout, Answer, "t").answer == "c"


def test_fence_followed_by_prose_is_parsed():
    stdout = '```json\n{"answer": "d", "score": 4}\n```\nHope this helps!'
    assert parse_agent_output(stdout, Answer, "t").answer == "d"


def test_only_the_first_fence_is_tried():
    stdout = (
        '```json\n{"answer": "first", "score": 1}\n```\n'
        'text\n```json\n{"answer": "second", "score": 2}\n```'
    )
    assert parse_agent_output(stdout, Answer, "t").answer == "first"


def test_first_fence_invalid_is_an_error_even_when_a_later_fence_is_valid():
    stdout = '```json\n{broken\n```\n```json\n{"answer": "x", "score": 1}\n```'
    with pytest.raises(OutputValidationError) as info:
        parse_agent_output(stdout, Answer, "t")
    assert info.value.reason.startswith("Could not parse JSON")


def test_surrounding_whitespace_is_tolerated():
    stdout = '\n\n   {"answer": "w", "score": 0}  \n\t\n'
    assert parse_agent_output(stdout, Answer, "t").answer == "w"


def test_non_json_text_raises_with_could_not_parse():
    with pytest.raises(OutputValidationError) as info:
        parse_agent_output("I think the answer is yes.", Answer, "classify")
    assert info.value.task_name == "classify"
    assert info.value.reason.startswith("Could not parse JSON")


def test_broken_json_message_says_could_not_parse_json():
    with pytest.raises(OutputValidationError) as info:
        parse_agent_output("{ broken json }", Answer, "t")
    assert "Could not parse JSON" in str(info.value)
    assert isinstance(info.value.cause, ValueError)


def test_invalid_json_inside_fence_raises():
    with pytest.raises(OutputValidationError) as info:
        parse_agent_output("```json\n{ not: valid }\n```", Answer, "fenced")
    assert info.value.task_name == "fenced"
    assert "Could not parse JSON" in info.value.reason


def test_fence_without_newline_before_closing_is_not_a_fence():
    with pytest.raises(OutputValidationError):
        parse_agent_output('```json\n{"answer": "x", "score": 1}```', Answer, "t")


def test_valid_json_failing_the_schema_names_the_task():
    with pytest.raises(OutputValidationError) as info:
        parse_agent_output('{"answer": "x"}', Answer, "scorer")
    assert info.value.task_name == "scorer"
    assert "score" in info.value.reason
    assert not info.value.reason.startswith("Could not parse JSON")


def test_extra_keys_are_dropped():
    result = parse_agent_output('{"answer": "x", "score": 1, "injected": "evil"}', Answer, "t")
    assert result.model_dump() == {"answer": "x", "score": 1.0}
    assert not hasattr(result, "injected")


def test_extra_keys_of_nested_models_are_dropped_under_strict_validation():
    stdout = '{"inner": {"x": 1, "zz": 2}, "items": [{"x": 2, "yy": 3}], "top": 0}'
    result = parse_agent_output(stdout, Outer, "t")
    assert result.model_dump() == {"inner": {"x": 1}, "items": [{"x": 2}]}


def test_model_forbidding_extra_keys_still_rejects_them():
    with pytest.raises(OutputValidationError):
        parse_agent_output('{"a": 1, "b": 2}', Closed, "t")


def test_numeric_string_is_not_coerced_to_int():
    with pytest.raises(OutputValidationError) as info:
        parse_agent_output('{"count": "42"}', Count, "t")
    assert "count" in info.value.reason


def test_numeric_string_is_not_coerced_in_nested_models():
    with pytest.raises(OutputValidationError):
        parse_agent_output('{"inner": {"x": "1"}, "items": []}', Outer, "t")


def test_number_is_not_coerced_to_bool():
    with pytest.raises(OutputValidationError):
        parse_agent_output('{"ok": 1}', Flag, "t")


def test_string_is_not_coerced_to_bool():
    with pytest.raises(OutputValidationError):
        parse_agent_output('{"ok": "true"}', Flag, "t")


def test_integer_is_accepted_for_a_float_field():
    assert parse_agent_output('{"answer": "x", "score": 3}', Answer, "t").score == 3.0


def test_json_native_conversions_still_work_in_strict_mode():
    result = parse_agent_output('{"when": "2024-05-01", "pair": [1, 2], "color": "red"}', Rich, "t")
    assert result == Rich(when=datetime.date(2024, 5, 1), pair=(1, 2), color=Color.RED)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_rejected(constant):
    with pytest.raises(OutputValidationError) as info:
        parse_agent_output(f'{{"answer": "x", "score": {constant}}}', Answer, "t")
    assert info.value.reason.startswith("Could not parse JSON")
    assert constant in info.value.reason


def test_non_json_constant_inside_fence_is_rejected():
    with pytest.raises(OutputValidationError):
        parse_agent_output('```json\n{"answer": "x", "score": NaN}\n```', Answer, "t")


def test_top_level_string_schema():
    assert parse_agent_output('"hello world"', str, "t") == "hello world"


def test_top_level_array_schema():
    assert parse_agent_output("[1, 2, 3]", list[int], "t") == [1, 2, 3]


def test_top_level_array_rejects_strings_of_digits():
    with pytest.raises(OutputValidationError):
        parse_agent_output('["1", 2]', list[int], "t")


def test_bare_text_is_not_a_string_value():
    with pytest.raises(OutputValidationError):
        parse_agent_output("hello world", str, "t")


def test_max_output_bytes_rejects_longer_output_before_parsing():
    stdout = '{"answer": "' + "é" * 10 + '", "score": 1}'
    size = len(stdout.encode())
    with pytest.raises(OutputTooLargeError) as info:
        parse_agent_output(stdout, Answer, "big", max_output_bytes=size - 1)
    assert (info.value.size, info.value.limit, info.value.task_name) == (size, size - 1, "big")
    assert isinstance(info.value, OutputValidationError)
    assert parse_agent_output(stdout, Answer, "big", max_output_bytes=size).score == 1.0


def test_extract_json_text_returns_the_fenced_document():
    assert extract_json_text("see:\n```json\n[1]\n```", "t") == "[1]"
    assert extract_json_text("  [2]  ", "t") == "[2]"
