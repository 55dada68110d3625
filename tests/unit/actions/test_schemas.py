"""Action input schemas: nothing outside the schema is fetched, and user patterns run on RE2."""

import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import fastjsonschema
import pytest

from stepwise.actions.definitions import InputRejected, check_input, schema_error
from stepwise.actions.models import ActionDefinition
from stepwise.actions.schemas import SchemaRefused, compile_schema


@pytest.fixture
def listener():
    """A local HTTP server that serves a schema document and records every request."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = b'{"x": {"enum": ["secret-from-the-fetched-document"]}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", seen
    server.shutdown()


@pytest.mark.attack
def test_no_reference_outside_the_schema_is_ever_fetched(listener):
    # schema_error refuses such a $ref by its text first; the compiler must refuse it too, for
    # whatever path leads fastjsonschema to a document it does not have.
    base, seen = listener
    with pytest.raises(SchemaRefused, match="outside itself"):
        compile_schema({"$ref": f"{base}d.json#/x"})
    assert seen == []


@pytest.mark.attack
def test_a_nested_id_does_not_make_a_local_ref_fetch(listener):
    base, seen = listener
    schema = {"properties": {"a": {"$id": base, "$ref": "#/x"}}}
    reason = schema_error(schema)
    assert reason is not None and "not a valid JSON Schema" in reason
    assert seen == []  # the attack: the listener got the GET


@pytest.mark.attack
def test_a_file_uri_id_is_refused_without_reading_the_file(tmp_path):
    secret = tmp_path / "s.json"
    secret.write_text('{"x": {"enum": ["from-disk"]}}')
    schema = {"properties": {"a": {"$id": secret.as_uri(), "$ref": "#/x"}}}
    reason = schema_error(schema)
    assert reason is not None and "from-disk" not in reason


@pytest.mark.attack
def test_a_schema_saved_before_the_rule_fails_the_attempt_without_fetching(listener):
    base, seen = listener
    definition = ActionDefinition.model_construct(
        schema_={"properties": {"a": {"$id": base, "$ref": "#/x"}}}
    )
    with pytest.raises(InputRejected, match="cannot be used") as caught:
        check_input(definition, {"a": "anything"})
    assert seen == []
    assert "secret-from-the-fetched-document" not in str(caught.value)


def test_references_inside_the_schema_still_work():
    schema = {"$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}}
    validate = compile_schema(schema)
    assert validate({"a": 1}) == {"a": 1}
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate({"a": "x"})


@pytest.mark.attack
def test_user_patterns_run_on_re2_and_keep_their_meaning():
    schema = {"type": "string", "pattern": "^(a+)+$"}
    validate = compile_schema(schema)
    engine = validate.__globals__["REGEX_PATTERNS"]["^(a+)+$"]
    assert not isinstance(engine, re.Pattern)  # RE2, not Python's backtracking re
    assert validate("a" * 64) == "a" * 64
    # 2**64 paths for a backtracking engine; RE2 answers in one pass
    with pytest.raises(fastjsonschema.JsonSchemaValueException, match="pattern"):
        validate("a" * 64 + "b")


def test_a_dollar_anchor_still_refuses_a_trailing_newline():
    validate = compile_schema({"type": "string", "pattern": "^ab$"})
    assert validate("ab") == "ab"
    for bad in ("abc", "ab\n"):
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(bad)


def test_pattern_properties_run_on_re2():
    schema = {"patternProperties": {"^(x+)+$": {"type": "integer"}}}
    validate = compile_schema(schema)
    assert validate({"xxx": 1}) == {"xxx": 1}
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate({"xxx": "not an integer"})


@pytest.mark.attack
def test_a_pattern_re2_cannot_run_is_refused_when_saved():
    reason = schema_error({"type": "string", "pattern": "^(a)\\1$"})
    assert reason is not None and "RE2" in reason and "backreferences" in reason
    with pytest.raises(SchemaRefused):
        compile_schema({"patternProperties": {"(?=x)": {}}})


def test_formats_keep_their_own_expressions():
    validate = compile_schema({"type": "string", "format": "email"})
    assert validate("a@b.io") == "a@b.io"
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate("not-an-email")


@pytest.mark.attack
def test_a_schema_nested_past_the_recursion_limit_is_refused_not_a_crash():
    schema: dict = {}
    for _ in range(2000):
        schema = {"items": schema}
    assert schema_error(schema) is not None
