"""``{{ expr }}`` templates: JMESPath over the run context, safe (no code execution).

A string that is exactly one ``{{ expr }}`` yields the expression's raw value (a list stays a
list); ``{{ expr }}`` inside longer text is interpolated as text (JSON for non-strings).
"""

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import functions
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from stepwise.core import settings

# One rendered text (an interpolated string, a to_string result) may not pass the quota
# ``rendered_bytes`` (core.settings), at most this: an expression such as
# to_string([[@,@],[@,@]]...) doubles its output at every level.
MAX_RENDERED_BYTES = settings.MAX_RENDERED_BYTES


def rendered_limit() -> int:
    """The operator's quota on one rendered text (``QuotaRenderedBytes``)."""
    return settings.quotas().rendered_bytes


class TemplateError(Exception):
    """An expression that does not parse or fails on the context."""

    def __init__(self, expression: str, reason: str):
        super().__init__(f"expression {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


class _Functions(functions.Functions):
    """JMESPath's built-in functions, with ``to_string`` bounded in size."""

    @functions.signature({"types": []})
    def _func_to_string(self, arg: Any) -> str:
        return arg if isinstance(arg, str) else bounded_json(arg, rendered_limit())


_OPTIONS = jmespath.Options(custom_functions=_Functions())


class _TooLarge(Exception):
    pass


def bounded_json(value: Any, limit: int) -> str:
    """Compact JSON of ``value``; _TooLarge past ``limit`` characters, found while encoding (a
    value built of shared references can be small in memory and astronomical as text)."""
    chunks: list[str] = []
    size = 0
    for chunk in json.JSONEncoder(separators=(",", ":")).iterencode(value):
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"its text would pass {limit} characters (quota rendered_bytes)")
        chunks.append(chunk)
    return "".join(chunks)


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> ParsedResult:
    if not expression:
        raise TemplateError(expression, "empty expression")
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise TemplateError(expression, _first_line(exc)) from None
    except RecursionError:
        raise TemplateError(expression, "nested too deeply") from None


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    try:
        return compile_expression(expression).search(context, options=_OPTIONS)
    except JMESPathError as exc:
        raise TemplateError(expression, _first_line(exc)) from None
    except _TooLarge as exc:
        raise TemplateError(expression, str(exc)) from None
    except RecursionError:
        raise TemplateError(expression, "nested too deeply") from None


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
        for _, _, expression in _placeholders(template):
            try:
                compile_expression(expression)
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
    return _whole(text.strip())


def placeholder_expressions(text: str) -> list[str]:
    """The expression of each ``{{ expression }}`` in ``text``, left to right."""
    return [expression for _, _, expression in _placeholders(text)]


def _placeholders(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, expression)`` of each ``{{ expression }}``, left to right. The expression
    is what stands between ``{{`` and the next ``}}``, stripped, so ``{{ a }} and {{ b }}`` is two
    placeholders. One pass over the text (a regular expression here was quadratic on a text of
    many ``{{`` and no ``}}``)."""
    position = 0
    while (start := text.find("{{", position)) >= 0:
        close = text.find("}}", start + 2)
        if close < 0:
            return
        yield start, close + 2, text[start + 2 : close].strip()
        position = close + 2


def _whole(text: str) -> str | None:
    first = next(_placeholders(text), None)
    return first[2] if first and first[0] == 0 and first[1] == len(text) else None


def _render_string(text: str, context: dict[str, Any]) -> Any:
    whole = _whole(text)
    if whole is not None:
        return evaluate(whole, context)
    parts: list[str] = []
    size, limit = 0, rendered_limit()
    position = 0
    for start, end, expression in _placeholders(text):
        piece = _as_text(evaluate(expression, context), expression)
        parts += [text[position:start], piece]
        size += start - position + len(piece)
        if size > limit:
            reason = f"the text would pass {limit} characters (quota rendered_bytes)"
            raise TemplateError(expression, reason)
        position = end
    if position and size + len(text) - position > limit:  # the text after the last one too
        reason = f"the text would pass {limit} characters (quota rendered_bytes)"
        raise TemplateError(text[position:][:40], reason)
    parts.append(text[position:])
    return "".join(parts)


def _as_text(value: Any, expression: str) -> str:
    if isinstance(value, str):
        return value
    try:
        return bounded_json(value, rendered_limit())
    except _TooLarge as exc:
        raise TemplateError(expression, str(exc)) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
