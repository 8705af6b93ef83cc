import pytest

from ageflow.core.errors import InvalidIdentifierError
from ageflow.core.identifiers import IDENTIFIER_PATTERN, validate_static_identifier


@pytest.mark.parametrize(
    "name", ["claude", "claude-opus-4-6", "my.mcp-server", "runner123", "a", "A-B_C.D", ".."]
)
def test_valid_identifiers_are_returned(name):
    assert validate_static_identifier(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "my runner",
        "my runner!",
        "server;rm",
        "../path",
        "name/path",
        "runner!",
        "org/model",
        "llama3:8b",
        "runner\n",  # `$` alone would match before a trailing newline
        "rünner",  # non-ASCII letters are not in the alphabet
        "tab\tname",
    ],
)
def test_invalid_identifiers_raise(name):
    with pytest.raises(InvalidIdentifierError, match="invalid characters") as caught:
        validate_static_identifier(name)
    assert caught.value.value == name
    assert IDENTIFIER_PATTERN.pattern in caught.value.message


def test_field_name_is_reported():
    with pytest.raises(InvalidIdentifierError) as caught:
        validate_static_identifier("my runner", "runner")
    assert caught.value.field == "runner"
    assert caught.value.message.startswith("Invalid runner ")


def test_default_field_name():
    with pytest.raises(InvalidIdentifierError) as caught:
        validate_static_identifier("a b")
    assert caught.value.field == "identifier"


def test_non_string_is_rejected_as_invalid_identifier():
    with pytest.raises(InvalidIdentifierError) as caught:
        validate_static_identifier(42, "runner")
    assert caught.value.value == "42"


def test_pattern_text():
    assert IDENTIFIER_PATTERN.pattern == r"^[a-zA-Z0-9._-]+$"
