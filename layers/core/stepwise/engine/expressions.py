"""``{{ expr }}`` templates: JMESPath over the run context, safe (no code execution).

A string that is exactly one ``{{ expr }}`` yields the expression's raw value (a list stays a
list); ``{{ expr }}`` inside longer text is interpolated as text (JSON for non-strings).
"""

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

# The inner part may not contain "}}", so that "{{ a }} and {{ b }}" is two placeholders.
_PLACEHOLDER = re.compile(r"\{\{\s*((?:(?!\}\}).)*?)\s*\}\}", re.DOTALL)


class TemplateError(Exception):
    """An expression that does not parse or fails on the context."""

    def __init__(self, expression: str, reason: str):
        super().__init__(f"expression {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> ParsedResult:
    if not expression:
        raise TemplateError(expression, "empty expression")
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise TemplateError(expression, _first_line(exc)) from None


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    try:
        return compile_expression(expression).search(context)
    except JMESPathError as exc:
        raise TemplateError(expression, _first_line(exc)) from None


def render(template: Any, context: dict[str, Any]) -> Any:
    """The template with every placeholder replaced, walking lists and objects."""
    if isinstance(template, str):
        return _render_string(template, context)
    if isinstance(template, list):
        return [render(item, context) for item in template]
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    return template


def find_errors(template: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple, str]]:
    """Yields ``(location, reason)`` for every placeholder that does not compile."""
    if isinstance(template, str):
        for match in _PLACEHOLDER.finditer(template):
            try:
                compile_expression(match.group(1))
            except TemplateError as exc:
                yield loc, str(exc)
    elif isinstance(template, list):
        for index, item in enumerate(template):
            yield from find_errors(item, (*loc, index))
    elif isinstance(template, dict):
        for key, value in template.items():
            yield from find_errors(value, (*loc, key))


def single_expression(text: str) -> str | None:
    """The expression when ``text`` is exactly one ``{{ expr }}`` placeholder, else None."""
    whole = _PLACEHOLDER.fullmatch(text.strip())
    return whole.group(1) if whole else None


def _render_string(text: str, context: dict[str, Any]) -> Any:
    whole = _PLACEHOLDER.fullmatch(text)
    if whole:
        return evaluate(whole.group(1), context)
    return _PLACEHOLDER.sub(lambda m: _as_text(evaluate(m.group(1), context)), text)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
