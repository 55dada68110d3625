"""{{ expr }} templates over the run context."""

import random
import re

import pytest

from stepwise.engine.expressions import (
    MAX_RENDERED_BYTES,
    TemplateError,
    _placeholders,
    compile_expression,
    find_errors,
    render,
    single_expression,
)

CONTEXT = {
    "input": {"name": "ada", "items": [1, 2, 3], "price": 1.5},
    "nodes": {"b": {"output": {"x": 10}}, "c": {"output": [True, None]}},
}


def test_a_whole_string_placeholder_yields_the_raw_value():
    assert render("{{ input.items }}", CONTEXT) == [1, 2, 3]
    assert render("{{ nodes.b.output.x }}", CONTEXT) == 10
    assert render("{{ input.price }}", CONTEXT) == 1.5


def test_placeholders_inside_text_are_interpolated():
    assert render("hi {{ input.name }}, x={{ nodes.b.output.x }}", CONTEXT) == "hi ada, x=10"
    assert render("c={{ nodes.c.output }}", CONTEXT) == "c=[true,null]"


def test_rendering_walks_lists_and_objects_and_keeps_other_values():
    template = {"a": ["{{ input.name }}", 3, None, {"b": "{{ length(input.items) }}"}], "k": False}
    assert render(template, CONTEXT) == {"a": ["ada", 3, None, {"b": 3}], "k": False}


def test_a_missing_path_is_null_not_an_error():
    assert render("{{ nodes.zzz.output }}", CONTEXT) is None


@pytest.mark.parametrize("template", ["{{ input.[ }}", "{{ }}", "{{ length(input.name, 1) }}"])
def test_a_broken_expression_raises_a_template_error_naming_it(template):
    with pytest.raises(TemplateError) as caught:
        render(template, CONTEXT)
    assert "expression" in str(caught.value)


def test_a_type_error_at_evaluation_is_a_template_error():
    with pytest.raises(TemplateError):
        render("{{ abs(input.name) }}", CONTEXT)


def test_find_errors_reports_each_location():
    found = list(find_errors({"a": "{{ ok }}", "b": ["{{ ( }}", "{{ x }}"], "c": "{{ ) }}"}))
    assert [loc for loc, _ in found] == [("b", 0), ("c",)]


def test_two_placeholders_are_never_read_as_one():
    assert render("{{ input.name }} and {{ input.price }}", CONTEXT) == "ada and 1.5"
    assert single_expression("{{ a }} and {{ b }}") is None
    assert single_expression("  {{ nodes.b.output }} ") == "nodes.b.output"


# The pattern the scanner replaced: quadratic on many "{{" without "}}", kept here as the
# reference of what a placeholder is.
_REFERENCE = re.compile(r"\{\{\s*((?:(?!\}\}).)*?)\s*\}\}", re.DOTALL)


def test_the_scanner_finds_what_the_reference_pattern_finds():
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice("{{}} a\n") for _ in range(rng.randint(0, 30)))
        found = [expression for _, _, expression in _placeholders(text)]
        assert found == [m.group(1) for m in _REFERENCE.finditer(text)], text
        whole = _REFERENCE.fullmatch(text.strip())
        assert single_expression(text) == (whole.group(1) if whole else None), text


@pytest.mark.attack
def test_a_text_of_many_opening_braces_is_read_in_one_pass():
    text = "{{" * 200_000  # the regular expression took about 12 s for 20,000 characters
    assert list(find_errors(text)) == []
    assert render(text, {}) == text


def _doubling(levels: int) -> str:
    return " | ".join(["[@,@]"] * levels)  # each level doubles the value's text


@pytest.mark.attack
def test_to_string_of_a_doubling_value_stops_at_the_limit():
    with pytest.raises(TemplateError, match="would pass"):
        render(f"{{{{ to_string({_doubling(30)}) }}}}", {"input": "x"})
    assert render(f"{{{{ to_string({_doubling(2)}) }}}}", {}) == "[[{},{}],[{},{}]]"


@pytest.mark.attack
def test_interpolating_a_doubling_value_stops_at_the_limit():
    with pytest.raises(TemplateError, match="would pass"):
        render(f"id: {{{{ {_doubling(30)} }}}}", {})


@pytest.mark.attack
def test_many_large_placeholders_together_stop_at_the_limit():
    context = {"big": "x" * (MAX_RENDERED_BYTES // 4)}
    with pytest.raises(TemplateError, match="would pass"):
        render("{{ big }}" * 5, context)
    assert len(render("{{ big }}" * 3, context)) == 3 * (MAX_RENDERED_BYTES // 4)


@pytest.mark.attack
def test_deeply_nested_parentheses_are_a_template_error_not_a_crash():
    expression = "(" * 600 + "a" + ")" * 600
    with pytest.raises(TemplateError, match="nested too deeply"):
        compile_expression(expression)
    assert any(
        "nested too deeply" in reason for _, reason in find_errors(f"{{{{ {expression} }}}}")
    )


@pytest.fixture
def rendered_quota(monkeypatch):
    from stepwise.core import settings

    monkeypatch.setenv("QUOTA_RENDERED_BYTES", "1024")
    settings.clear()
    yield 1024
    monkeypatch.undo()
    settings.clear()


def test_the_rendered_bytes_quota_lowers_the_limit_and_names_itself(rendered_quota):
    context = {"s": "x" * (rendered_quota - 2)}
    assert len(render("<{{ s }}>", context)) == rendered_quota  # at the quota
    with pytest.raises(TemplateError, match=r"would pass 1024 characters \(quota rendered_bytes\)"):
        render("<<{{ s }}>", context)
    # to_string is bounded by the same quota.
    assert len(render("{{ to_string(s) }}", {"s": ["x" * (rendered_quota - 4)]})) == 1024
    with pytest.raises(TemplateError, match="rendered_bytes"):
        render("{{ to_string(s) }}", {"s": ["x" * (rendered_quota - 3)]})


def test_the_rendered_bytes_quota_cannot_pass_the_hard_maximum(monkeypatch):
    from pydantic import ValidationError

    from stepwise.core import settings

    monkeypatch.setenv("QUOTA_RENDERED_BYTES", str(MAX_RENDERED_BYTES + 1))
    settings.clear()
    try:
        with pytest.raises(ValidationError):
            settings.quotas()
    finally:
        monkeypatch.undo()
        settings.clear()


# -- issue 14 row 6, second pass: values an expression multiplies, not only text ----------------


def doubled(steps: int, step: str) -> str:
    return "{{ input.v" + step * steps + " }}"


@pytest.mark.attack
def test_a_value_doubled_by_shared_references_is_refused_before_it_is_written_out():
    """``[@,@]`` 26 deep is 52 small objects in memory and about 1.3 GB of JSON: render gave it
    back, and the output quota's json.dumps then built the whole text (the engine step ran
    out of time and memory). Now render refuses it, naming the quotas."""
    with pytest.raises(TemplateError, match="node_output_bytes"):
        render(doubled(26, " | [@,@]"), {"input": {"v": "x" * 10}})


@pytest.mark.attack
def test_a_list_doubled_by_flattening_is_refused_within_the_budget():
    """``[@,@][]`` copies: 21 steps built a list of 2 million elements in 5 s."""
    with pytest.raises(TemplateError, match="flattening builds too large a list"):
        render(doubled(21, " | [@,@][]"), {"input": {"v": [1]}})


@pytest.mark.attack
def test_many_flattening_expressions_in_one_template_share_one_budget():
    """Each of ten expressions flattens 1 million elements in all: under a budget of its own
    each passed, and ten of them took ten times as long."""
    template = {
        f"k{i}": doubled(19, " | [@,@][]").replace(" }}", " | length(@) }}") for i in range(10)
    }
    with pytest.raises(TemplateError, match="flattening builds too large a list"):
        render(template, {"input": {"v": [1]}})
    # One of them alone is within the budget, and its value is small.
    assert render(template["k0"], {"input": {"v": [1]}}) == 2**19


@pytest.mark.attack
def test_join_of_a_doubling_string_stops_at_the_rendered_limit():
    with pytest.raises(TemplateError, match="rendered_bytes"):
        render(doubled(20, " | join('', [@,@])"), {"input": {"v": "ab"}})


@pytest.mark.attack
def test_a_template_repeating_a_large_value_is_refused_as_a_whole():
    """Each placeholder's value fits (the context's own 600 KB), two of them do not."""
    context = {"input": {"v": "x" * 600_000}}
    assert len(render("{{ input.v }}", context)) == 600_000
    with pytest.raises(TemplateError, match="the rendered value would pass"):
        render({"a": "{{ input.v }}", "b": "{{ input.v }}"}, context)
