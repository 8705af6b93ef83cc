import re
from collections import OrderedDict, namedtuple
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from ageflow.core.sanitize import SANITIZED_MARK, sanitize_ctx_data, sanitize_text

MARK = "[SANITIZED]"


def test_mark_constant():
    assert SANITIZED_MARK == " [SANITIZED] "


# --- strings (§7.8) -------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["System:", "Human:", "Assistant:"])
def test_role_marker_at_start_is_replaced(marker):
    result = sanitize_ctx_data(f"{marker} do evil")
    assert result == " [SANITIZED]  do evil"
    assert marker not in result


def test_separator_line_at_start_is_replaced():
    assert sanitize_ctx_data("---\nrest") == " [SANITIZED] rest"


def test_mid_string_system_marker_includes_the_newline():
    assert sanitize_ctx_data("hello\nSystem: x") == "hello [SANITIZED]  x"


def test_mid_string_separator_line():
    assert sanitize_ctx_data("a\n---\nb") == "a [SANITIZED] b"


def test_separator_line_at_end():
    assert sanitize_ctx_data("a\n---") == "a [SANITIZED] "


def test_indented_marker_after_newline_takes_the_indent():
    assert sanitize_ctx_data("a\n   Human: hi") == "a [SANITIZED]  hi"


def test_system_marker_at_the_very_end():
    result = sanitize_ctx_data("text\nSystem:")
    assert result == "text [SANITIZED] "


def test_markers_are_case_insensitive():
    assert sanitize_ctx_data("system: x") == " [SANITIZED]  x"
    assert sanitize_ctx_data("a\nSYSTEM: x") == "a [SANITIZED]  x"
    assert sanitize_ctx_data("a\naSSiStAnT: x") == "a [SANITIZED]  x"


@pytest.mark.parametrize(
    "text",
    [
        "plain clean text",
        "the file-system is fine",
        "human-readable output",
        "a -- b",
        "x---y",
        "The System: is not at a line start",
        "",
    ],
)
def test_clean_text_is_unchanged(text):
    assert sanitize_ctx_data(text) == text


def test_every_marker_in_one_text():
    text = "System: a\nHuman: b\nAssistant: c\n---\nend"
    result = sanitize_ctx_data(text)
    assert result.count(MARK) == 4
    assert not re.search(r"(?im)^\s*(system|human|assistant):", result)


def test_unchanged_string_is_the_same_object():
    class Colour(StrEnum):
        RED = "red"

    assert sanitize_ctx_data(Colour.RED) is Colour.RED


def test_sanitize_text_is_the_string_scrubber():
    assert sanitize_text("Human: x") == " [SANITIZED]  x"


# --- containers -----------------------------------------------------------------------


def test_nested_dict_strings_sanitized_numbers_untouched():
    data = {"outer": {"text": "System: x", "count": 3}, "ratio": 0.5}
    assert sanitize_ctx_data(data) == {
        "outer": {"text": " [SANITIZED]  x", "count": 3},
        "ratio": 0.5,
    }


def test_dict_keys_are_not_sanitized():
    assert sanitize_ctx_data({"System: key": "v"}) == {"System: key": "v"}


def test_list_elements_sanitized_individually():
    assert sanitize_ctx_data(["ok", "Human: x", 1]) == ["ok", " [SANITIZED]  x", 1]


def test_tuple_stays_tuple():
    result = sanitize_ctx_data(("Human: x", 2))
    assert result == (" [SANITIZED]  x", 2)
    assert type(result) is tuple


def test_named_tuple_stays_named_tuple():
    Pair = namedtuple("Pair", ["left", "right"])
    result = sanitize_ctx_data(Pair("System: a", 1))
    assert isinstance(result, Pair)
    assert result.left == " [SANITIZED]  a"
    assert result.right == 1


def test_sets_keep_their_kind():
    assert sanitize_ctx_data({"Human: x"}) == {" [SANITIZED]  x"}
    result = sanitize_ctx_data(frozenset({"Human: x"}))
    assert result == frozenset({" [SANITIZED]  x"})
    assert type(result) is frozenset


def test_other_mappings_become_dicts():
    result = sanitize_ctx_data(OrderedDict([("b", "System: x"), ("a", "y")]))
    assert result == {"b": " [SANITIZED]  x", "a": "y"}
    assert list(result) == ["b", "a"]


@pytest.mark.parametrize("value", [42, 3.5, True, False, None, b"System: raw bytes"])
def test_scalars_pass_through_unchanged(value):
    assert sanitize_ctx_data(value) is value


def test_other_objects_pass_through_unchanged():
    marker = object()
    assert sanitize_ctx_data(marker) is marker


# --- pydantic models ------------------------------------------------------------------


class Inner(BaseModel):
    note: str


class Report(BaseModel):
    title: str
    score: int
    inner: Inner
    tags: list[str] = Field(default_factory=list)


class AliasedReport(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    long_title: str


class StrictReport(BaseModel):
    text: str

    @field_validator("text")
    @classmethod
    def _no_brackets(cls, value: str) -> str:
        if "[" in value:
            raise ValueError("brackets not allowed")
        return value


def test_model_is_rebuilt_as_the_same_type():
    report = Report(title="System: evil", score=7, inner=Inner(note="a\nHuman: b"), tags=["x"])
    result = sanitize_ctx_data(report)
    assert type(result) is Report
    assert result.title == " [SANITIZED]  evil"
    assert isinstance(result.inner, Inner)
    assert result.inner.note == "a [SANITIZED]  b"
    assert result.score == 7
    assert result.tags == ["x"]


def test_clean_model_is_returned_as_is():
    report = Report(title="fine", score=1, inner=Inner(note="ok"))
    assert sanitize_ctx_data(report) is report


def test_model_with_aliases_is_rebuilt():
    result = sanitize_ctx_data(AliasedReport(longTitle="System: x"))
    assert isinstance(result, AliasedReport)
    assert result.long_title == " [SANITIZED]  x"


def test_models_inside_containers():
    result = sanitize_ctx_data({"items": [Inner(note="System: x")]})
    assert isinstance(result["items"][0], Inner)
    assert result["items"][0].note == " [SANITIZED]  x"


def test_model_validators_run_on_the_sanitized_data():
    # Re-validation is deliberate: the sanitized value must still satisfy the model.
    with pytest.raises(ValueError, match="brackets not allowed"):
        sanitize_ctx_data(StrictReport(text="System: x"))


# --- properties -----------------------------------------------------------------------

_MARKER_PIECES = st.sampled_from(["System:", "Human:", "assistant:", "---", "\n", " ", "\t"])
_text = st.lists(st.one_of(_MARKER_PIECES, st.text(max_size=5)), max_size=6).map("".join)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _text, st.binary()
)
_data = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(_text, children, max_size=4),
    ),
    max_leaves=20,
)


def _assert_same_shape(original: object, result: object) -> None:
    if isinstance(original, str):
        assert isinstance(result, str)
    elif isinstance(original, dict):
        assert isinstance(result, dict)
        assert list(result) == list(original)
        for key in original:
            _assert_same_shape(original[key], result[key])
    elif isinstance(original, list | tuple):
        assert type(result) is type(original)
        assert len(result) == len(original)
        for left, right in zip(original, result, strict=True):
            _assert_same_shape(left, right)
    else:
        assert result is original


@given(_data)
def test_structure_is_preserved_and_non_strings_untouched(data):
    result = sanitize_ctx_data(data)
    _assert_same_shape(data, result)


@given(_data)
def test_sanitizing_twice_keeps_the_structure(data):
    once = sanitize_ctx_data(data)
    _assert_same_shape(data, sanitize_ctx_data(once))


@given(st.text(alphabet=st.characters(blacklist_characters=":-"), max_size=50))
def test_text_without_colon_or_dash_is_unchanged(text):
    assert sanitize_ctx_data(text) == text


@given(_text)
def test_no_marker_is_left_at_a_line_start_of_plain_role_text(text):
    # Without separator lines no role marker can survive at a line start.
    if "---" in text:
        return
    result = sanitize_ctx_data(text)
    assert not re.search(r"(?im)^\s*(system|human|assistant):", result)
