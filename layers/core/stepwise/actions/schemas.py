"""Input JSON Schemas of action definitions, compiled so that no schema reaches the network or
burns the CPU.

- **No remote references.** fastjsonschema resolves a ``$ref`` against the nearest ``$id`` and
  fetches any URI it cannot find in the document (any scheme, ``file://`` included, no timeout).
  A ``$ref: "#/x"`` under a nested ``$id: "http://host/"`` is such a fetch although it looks
  local. Every compile here gets a resolver that refuses every scheme, so a reference that is not
  inside the document fails the schema instead of fetching.
- **Linear-time patterns.** ``pattern`` and ``patternProperties`` are user regular expressions
  matched against user data; Python's ``re`` backtracks (``^(a+)+$`` on 40 characters takes
  minutes). They are matched with RE2 instead, which runs in time linear in the input; a pattern
  RE2 cannot run (backreferences, lookaround) is refused when the schema is saved.
"""

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import fastjsonschema
import re2

Validator = Callable[[Any], Any]

# fastjsonschema anchors ``$`` as Python's ``\Z``; RE2 spells end of text ``\z``.
_END_OF_TEXT = re.compile(r"(?<!\\)((?:\\\\)*)\\Z")


class SchemaRefused(ValueError):
    """A schema that cannot be used safely, with the reason."""


class _NoRemoteReferences(Mapping[str, Callable[[str], Any]]):
    """fastjsonschema's handlers, by URI scheme: one for every scheme, refusing."""

    def __contains__(self, scheme: object) -> bool:
        return True

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return _refuse

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 1  # truthy: callers that do ``handlers or {}`` must keep this one


def _refuse(uri: str) -> Any:
    raise fastjsonschema.JsonSchemaDefinitionException(
        f"the schema refers to {uri!r}, outside itself; only references inside the schema are"
        " allowed (a nested $id makes even '#...' references point elsewhere)"
    )


NO_REMOTE_REFERENCES = _NoRemoteReferences()


def compile_schema(schema: dict[str, Any]) -> Validator:
    """A validator for ``schema``; SchemaRefused says why the schema cannot be used."""
    try:
        key = json.dumps(schema, sort_keys=True)
    except RecursionError:
        raise SchemaRefused("not a valid JSON Schema: nested too deeply") from None
    return _compiled(key)


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    try:
        validator = fastjsonschema.compile(schema, handlers=NO_REMOTE_REFERENCES)
    except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError) as exc:
        raise SchemaRefused(f"not a valid JSON Schema: {exc}") from None
    except RecursionError:
        raise SchemaRefused("not a valid JSON Schema: nested too deeply") from None
    _match_patterns_with_re2(validator, set(_user_patterns(schema)))
    return validator


def _match_patterns_with_re2(validator: Validator, patterns: set[str]) -> None:
    """Swaps the compiled ``re`` objects of the schema's own patterns for RE2 ones. The
    validator looks them up by the pattern's text in its module's ``REGEX_PATTERNS``; the
    built-in ``format`` expressions (keyed by format name) stay as they are."""
    compiled: dict[str, Any] = validator.__globals__.get("REGEX_PATTERNS", {})
    for key in [k for k in compiled if k in patterns]:
        source = _END_OF_TEXT.sub(r"\1\\z", compiled[key].pattern)
        try:
            compiled[key] = re2.compile(source)
        except re2.error:
            raise SchemaRefused(
                f"the pattern {key!r} is not supported: patterns run on RE2, in linear time,"
                " which has no backreferences or lookaround"
            ) from None


def _user_patterns(node: Any) -> Iterator[str]:
    """Every ``pattern`` value and ``patternProperties`` key in the schema."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("pattern"), str):
                yield item["pattern"]
            if isinstance(item.get("patternProperties"), dict):
                yield from item["patternProperties"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
