"""build_output_schema_prompt and json_schema_for: inlined, self-contained JSON Schemas."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field

from ageflow.executor.schema_prompt import build_output_schema_prompt, inline_refs, json_schema_for


class Result(BaseModel):
    summary: str
    confidence: float


class Address(BaseModel):
    street: str
    zip_code: str


class Person(BaseModel):
    name: str
    home: Address
    work: Address | None = None
    previous: list[Address] = Field(default_factory=list)


class Node(BaseModel):
    value: int
    children: list[Node] = Field(default_factory=list)


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


def fenced_json(prompt: str) -> dict:
    match = re.search(r"```json\n([\s\S]*?)\n```", prompt)
    assert match is not None, prompt
    return json.loads(match.group(1))


def all_keys(node) -> set[str]:
    if isinstance(node, dict):
        keys = set(node)
        for value in node.values():
            keys |= all_keys(value)
        return keys
    if isinstance(node, list):
        keys: set[str] = set()
        for item in node:
            keys |= all_keys(item)
        return keys
    return set()


def test_prompt_has_json_instruction_field_names_and_types():
    prompt = build_output_schema_prompt(Result)
    assert "You MUST respond with valid JSON" in prompt
    assert '"summary"' in prompt
    assert '"confidence"' in prompt
    assert '"type": "string"' in prompt
    assert '"type": "number"' in prompt


def test_prompt_forbids_text_around_the_json_and_has_a_json_fence():
    prompt = build_output_schema_prompt(Result)
    assert "Do not include any text" in prompt
    assert "```json\n" in prompt
    assert prompt.rstrip().endswith("```")


def test_prompt_layout():
    lines = build_output_schema_prompt(Result).split("\n")
    assert lines[0].startswith("You MUST respond with valid JSON")
    assert lines[1].startswith("Do not include any text")
    assert lines[2] == ""
    assert lines[3] == "Output schema:"
    assert lines[4] == "```json"
    assert lines[-1] == "```"


def test_prompt_has_no_schema_key_or_url():
    prompt = build_output_schema_prompt(Person)
    assert '"$schema"' not in prompt
    assert "json-schema.org" not in prompt


def test_fenced_content_is_valid_json_with_two_space_indent():
    prompt = build_output_schema_prompt(Result)
    schema = fenced_json(prompt)
    assert schema == json_schema_for(Result)
    assert '\n  "properties": {' in prompt


def test_nested_model_fields_are_inlined():
    schema = fenced_json(build_output_schema_prompt(Person))
    assert "$ref" not in all_keys(schema)
    assert "$defs" not in all_keys(schema)
    home = schema["properties"]["home"]
    assert home["properties"]["street"]["type"] == "string"
    assert home["properties"]["zip_code"]["type"] == "string"
    previous_item = schema["properties"]["previous"]["items"]
    assert set(previous_item["properties"]) == {"street", "zip_code"}


def test_optional_nested_model_is_inlined_inside_any_of():
    schema = json_schema_for(Person)
    variants = schema["properties"]["work"]["anyOf"]
    assert {"type": "null"} in variants
    assert any(
        v.get("properties", {}).get("street") == {"title": "Street", "type": "string"}
        for v in variants
    )


def test_objects_are_closed_to_unknown_keys():
    schema = json_schema_for(Person)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["home"]["additionalProperties"] is False


def test_model_allowing_extra_keys_is_not_closed():
    assert json_schema_for(Open)["additionalProperties"] is True


def test_dict_schema_keeps_its_value_schema():
    assert json_schema_for(dict[str, int]) == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }


def test_int_is_integer_and_float_is_number():
    assert json_schema_for(int) == {"type": "integer"}
    assert json_schema_for(float) == {"type": "number"}
    assert json_schema_for(list[str]) == {"type": "array", "items": {"type": "string"}}


def test_recursive_model_is_inlined_to_a_finite_schema():
    schema = json_schema_for(Node)
    assert "$ref" not in all_keys(schema)
    assert "$defs" not in all_keys(schema)
    assert schema["title"] == "Node"
    assert schema["properties"]["value"] == {"title": "Value", "type": "integer"}
    # The self-reference cannot expand again: it becomes a placeholder naming the type.
    child = schema["properties"]["children"]["items"]
    assert child == {"description": "recursive: the same schema as Node"}
    json.dumps(schema)  # finite and serialisable


def test_json_schema_for_returns_a_fresh_copy_each_call():
    first = json_schema_for(Result)
    first["properties"]["summary"]["type"] = "tampered"
    assert json_schema_for(Result)["properties"]["summary"]["type"] == "string"


def test_inline_refs_keeps_keys_next_to_a_ref_and_decodes_pointer_escapes():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"a/b": {"type": "string", "description": "from def"}},
        "type": "object",
        "properties": {
            "x": {"$ref": "#/$defs/a~1b", "description": "from use"},
            "$defs": {"type": "integer"},  # a property that happens to be named $defs
        },
    }
    result = inline_refs(schema)
    assert result == {
        "type": "object",
        "properties": {
            "x": {"type": "string", "description": "from use"},
            "$defs": {"type": "integer"},
        },
    }


def test_inline_refs_leaves_unknown_refs_alone():
    schema = {"properties": {"x": {"$ref": "https://example.com/other.json"}}}
    assert inline_refs(schema) == schema
