import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from ageflow.core.paths import (
    MAX_PATH_LENGTH,
    AbsoluteSafePath,
    SafePath,
    check_safe_path,
    safe_path,
)


class RelativeDoc(BaseModel):
    path: safe_path()  # type: ignore[valid-type]


class AbsoluteDoc(BaseModel):
    path: safe_path(allow_absolute=True)  # type: ignore[valid-type]


class StaticDoc(BaseModel):
    path: SafePath
    anywhere: AbsoluteSafePath = "/tmp"


def reason_of(value: str, *, allow_absolute: bool = False) -> str:
    with pytest.raises(ValueError, match=r"^unsafe path: ") as caught:
        check_safe_path(value, allow_absolute=allow_absolute)
    return str(caught.value)


# --- accepted (§7.8) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "src/index.ts",
        "./src/index.ts",
        "deep/nested/file.ts",
        "foo..bar.ts",
        ".hidden",
        ".config/settings.json",
        "src/",
        "a/b~c",  # a tilde not at a segment start is a plain character
        "100%",  # a lone percent sign is not a variable
        "price$",  # a dollar sign without a name is not a variable
    ],
)
def test_accepts_plain_relative_paths(value):
    assert check_safe_path(value) == value
    assert RelativeDoc(path=value).path == value


# --- each of the 14 checks, each as the first failing one --------------------------------


def test_check_1_empty():
    assert "empty" in reason_of("")


def test_check_2_length_limit_is_inclusive():
    assert MAX_PATH_LENGTH == 4096
    at_limit = "a" * 4096
    assert check_safe_path(at_limit) == at_limit
    assert "longer than 4096" in reason_of("a" * 4097)
    assert "longer than 4096" in reason_of("x" * 5000)


def test_check_2_runs_before_whitespace_check():
    assert "longer than" in reason_of(" " + "a" * 4096)


@pytest.mark.parametrize("value", [" leading", "trailing ", "\tsrc", "src\n", "\u3000x"])
def test_check_3_surrounding_whitespace(value):
    assert "whitespace" in reason_of(value)


def test_check_4_nul():
    assert "NUL" in reason_of("a\x00b")


def test_check_3_runs_before_nul_check():
    assert "whitespace" in reason_of("a\x00 ")


@pytest.mark.parametrize("value", ["a\x01b", "a\x1fb", "a\x7fb", "a\x1bb"])
def test_check_5_control_characters(value):
    assert "control character" in reason_of(value)


@pytest.mark.parametrize(
    "value",
    ["file:///etc/passwd", "http://evil.com/", "javascript:alert(1)", "JavaScript:x", "s3+x://b"],
)
def test_check_6_urls(value):
    assert "URL" in reason_of(value)


def test_check_5_runs_before_url_check():
    assert "control character" in reason_of("http://a\x01")


def test_check_7_unc():
    assert "UNC" in reason_of("\\\\server\\share\\x")


@pytest.mark.parametrize("allow_absolute", [False, True])
def test_check_8_backslash_root_even_when_absolute_allowed(allow_absolute):
    assert "backslash" in reason_of("\\Windows\\foo", allow_absolute=allow_absolute)


@pytest.mark.parametrize("allow_absolute", [False, True])
@pytest.mark.parametrize("value", ["C:\\Windows\\System32", "c:/x"])
def test_check_9_drive_letter_even_when_absolute_allowed(value, allow_absolute):
    assert "drive letter" in reason_of(value, allow_absolute=allow_absolute)


def test_drive_letter_without_separator_is_not_a_drive_path():
    # "C:x" is drive-relative on Windows but does not match the check; it is accepted as is.
    assert check_safe_path("C:x") == "C:x"


@pytest.mark.parametrize("value", ["~/secret", "~root/.ssh", "a/~/b", "a\\~b"])
def test_check_10_home_expansion(value):
    assert "home-directory" in reason_of(value)


@pytest.mark.parametrize("value", ["$HOME/secret", "${HOME}/secret", "$(HOME)/x", "%HOME%/secret"])
def test_check_11_environment_variables(value):
    assert "environment-variable" in reason_of(value)


def test_check_10_runs_before_env_check():
    assert "home-directory" in reason_of("~/$HOME")


def test_check_12_posix_absolute():
    assert "absolute paths are not allowed" in reason_of("/etc/passwd")


def test_check_12_absolute_allowed_when_asked():
    assert check_safe_path("/etc/passwd", allow_absolute=True) == "/etc/passwd"
    assert AbsoluteDoc(path="/etc/passwd").path == "/etc/passwd"


def test_check_11_runs_before_absolute_check():
    assert "environment-variable" in reason_of("/$HOME")


@pytest.mark.parametrize(
    "value", ["../etc/passwd", "foo/../../etc", "./foo/../../../bar", "foo\\..\\bar", "a/.."]
)
def test_check_13_dotdot_segment(value):
    assert "'..' segment" in reason_of(value)


def test_check_13_applies_with_absolute_allowed():
    assert "'..' segment" in reason_of("/etc/../etc/passwd", allow_absolute=True)


def test_check_12_runs_before_dotdot_check():
    assert "absolute" in reason_of("/../x")


@pytest.mark.parametrize("value", ["..hidden", "a/..b", "..x/y"])
def test_check_14_normalised_path_starting_with_two_dots(value):
    assert "normalised" in reason_of(value)


def test_check_14_with_absolute_allowed():
    assert "normalised" in reason_of("/a/..b", allow_absolute=True)


# --- pydantic integration -------------------------------------------------------------


def test_failures_are_pydantic_validation_errors():
    with pytest.raises(PydanticValidationError, match="absolute paths are not allowed"):
        RelativeDoc(path="/etc/passwd")


def test_non_string_is_rejected():
    with pytest.raises(PydanticValidationError):
        RelativeDoc(path=42)


def test_static_aliases_behave_like_the_factory():
    assert safe_path() is SafePath
    assert safe_path(allow_absolute=True) is AbsoluteSafePath
    assert StaticDoc(path="a/b").anywhere == "/tmp"
    with pytest.raises(PydanticValidationError):
        StaticDoc(path="../x")
    with pytest.raises(PydanticValidationError):
        StaticDoc(path="a", anywhere="/a/../b")


def test_absolute_variant_still_rejects_traversal_in_models():
    with pytest.raises(PydanticValidationError, match=r"'\.\.' segment"):
        AbsoluteDoc(path="/etc/../etc/passwd")
