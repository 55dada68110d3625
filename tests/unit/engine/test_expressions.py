"""{{ expr }} templates over the run context."""

import pytest

from stepwise.engine.expressions import TemplateError, find_errors, render, single_expression

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
