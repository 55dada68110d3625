"""``{{ expr }}`` templates: JMESPath over the run context, safe (no code execution).

A string that is exactly one ``{{ expr }}`` yields the expression's raw value (a list stays a
list); ``{{ expr }}`` inside longer text is interpolated as text (JSON for non-strings).
"""

import json
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import functions, visitor
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


def value_limit() -> int:
    """The most JSON one expression's value, or one rendered template, may stand for: as much
    as any node output or run input may be (``QuotaNodeOutputBytes``, ``QuotaRunInputBytes``),
    so a value read from the context always fits and one an expression multiplies does not."""
    quotas = settings.quotas()
    return max(quotas.node_output_bytes, quotas.run_input_bytes)


class _Functions(functions.Functions):
    """JMESPath's built-in functions, with ``to_string`` and ``join`` bounded in size."""

    @functions.signature({"types": []})
    def _func_to_string(self, arg: Any) -> str:
        return arg if isinstance(arg, str) else bounded_json(arg, rendered_limit())

    @functions.signature({"types": ["string"]}, {"types": ["array-string"]})
    def _func_join(self, separator: str, array: list[str]) -> str:
        # join('', [@, @]) doubles a string at every level, as to_string doubles JSON.
        size = sum(len(s) for s in array) + len(separator) * max(len(array) - 1, 0)
        if size > rendered_limit():
            raise _TooLarge(f"join would pass {rendered_limit()} characters (quota rendered_bytes)")
        return separator.join(array)


_OPTIONS = jmespath.Options(custom_functions=_Functions())


class _TooLarge(Exception):
    pass


class _Interpreter(visitor.TreeInterpreter):
    """JMESPath's interpreter with a budget on the list elements that flattening builds.

    ``[@, @]`` only repeats a reference, but ``[]`` (flatten) copies: ``l | [@,@][] | [@,@][]``
    doubles a real list at every step, so 22 steps (227 characters) took 10 s and 4 million
    elements. Every flatten spends its result's length from the budget, which a flatten of any
    list read from the context fits many times over."""

    def __init__(self, budget: "_Budget"):
        super().__init__(_OPTIONS)
        self.budget = budget

    def visit_flatten(self, node: dict[str, Any], value: Any) -> Any:
        base = self.visit(node["children"][0], value)
        if not isinstance(base, list):
            return None
        size = sum(len(e) if isinstance(e, list) else 1 for e in base)
        self.budget.left -= size
        if self.budget.left < 0:
            raise _TooLarge("flattening builds too large a list (quotas node_output_bytes)")
        merged: list[Any] = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged


class _Budget:
    """List elements flattening may still build: one budget for a whole template, so that
    many expressions in one template cannot each spend a full one."""

    def __init__(self, left: int):
        self.left = left


_TEMPLATE_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def larger_than(value: Any, limit: int) -> bool:
    """Whether ``value``'s compact JSON surely passes ``limit`` bytes, found by walking it with
    a budget: a value built of shared references (``[@,@]`` nested 26 deep is 52 objects) can
    be small in memory and a gigabyte as text, which ``json.dumps`` would build in full. Each
    value counts the bytes it takes at least, so the walk stops after ``limit`` of them."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            total += 2 + sum(len(k) + 3 for k in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            total += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, str):
            total += len(item) + 2
        else:
            total += 1
        if total > limit:
            return True
    return False


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
    limit = value_limit()
    try:
        # ParsedResult.search, with the bounded interpreter (it builds a TreeInterpreter).
        budget = _TEMPLATE_BUDGET.get() or _Budget(limit)
        value = _Interpreter(budget).visit(compile_expression(expression).parsed, context)
        if larger_than(value, limit):
            raise _TooLarge(
                f"its value would pass {limit} bytes of JSON, more than any node output or run "
                "input may hold (quotas node_output_bytes, run_input_bytes)"
            )
        return value
    except JMESPathError as exc:
        raise TemplateError(expression, _first_line(exc)) from None
    except _TooLarge as exc:
        raise TemplateError(expression, str(exc)) from None
    except RecursionError:
        raise TemplateError(expression, "nested too deeply") from None


def render(template: Any, context: dict[str, Any]) -> Any:
    """The template with every placeholder replaced, walking lists and objects. TemplateError
    when the whole passes ``value_limit`` (each placeholder fits, but a template may repeat a
    large one many times)."""
    limit = value_limit()
    token = _TEMPLATE_BUDGET.set(_Budget(limit))
    try:
        rendered = _render(template, context)
    finally:
        _TEMPLATE_BUDGET.reset(token)
    # A string is one value evaluate checked, or interpolated text bounded by rendered_bytes.
    if not isinstance(template, str) and larger_than(rendered, limit):
        reason = (
            f"the rendered value would pass {limit} bytes of JSON (quotas node_output_bytes, "
            "run_input_bytes)"
        )
        raise TemplateError("args", reason)
    return rendered


def _render(template: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, str):
        return _render_string(template, context)
    if isinstance(template, list):
        return [_render(item, context) for item in template]
    if isinstance(template, dict):
        return {key: _render(value, context) for key, value in template.items()}
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
