"""Graph validation: every broken rule is a 422 error located at the offending field."""

import pytest

from stepwise.workflows.graph import children_of, find_cycle, leaves, roots, validation_errors
from stepwise.workflows.models import NodeSpec


def nodes(*specs: tuple[str, list[str]], args=None) -> list[NodeSpec]:
    return [
        NodeSpec(ref=ref, kind="transform", depends_on=deps, args=args or {}) for ref, deps in specs
    ]


def test_a_valid_diamond_has_no_errors():
    diamond = nodes(("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"]))
    assert validation_errors(diamond) == []


def test_an_empty_workflow_names_the_nodes_field():
    [error] = validation_errors([])
    assert error["loc"] == ["body", "nodes"]
    assert error["type"] == "too_short"


def test_a_duplicate_ref_names_the_second_node():
    [error] = validation_errors(nodes(("a", []), ("b", []), ("a", [])))
    assert error["loc"] == ["body", "nodes", 2, "ref"]
    assert "duplicate ref 'a'" in error["msg"]


def test_an_unknown_dependency_names_its_position():
    [error] = validation_errors(nodes(("a", []), ("b", ["a", "zz"])))
    assert error["loc"] == ["body", "nodes", 1, "depends_on", 1]
    assert "'zz'" in error["msg"]


@pytest.mark.parametrize(
    "graph",
    [
        [("a", ["a"])],
        [("a", ["b"]), ("b", ["a"])],
        [("root", []), ("a", ["root", "c"]), ("b", ["a"]), ("c", ["b"])],
    ],
    ids=["self", "pair", "triangle-under-root"],
)
def test_a_cycle_is_reported_with_its_path(graph):
    [error] = validation_errors(nodes(*graph))
    assert error["loc"] == ["body", "nodes"]
    assert error["type"] == "cycle"
    path = error["msg"].removeprefix("dependency cycle: ").split(" -> ")
    assert path[0] == path[-1]
    assert len(path) >= 2


def test_a_bad_expression_is_refused_at_save_time_with_its_location():
    bad = nodes(("a", []), args={"x": ["ok", "{{ input.[ }}"]})
    [error] = validation_errors(bad)
    assert error["loc"] == ["body", "nodes", 0, "args", "x", 1]
    assert error["type"] == "expression"


def test_a_bad_returns_expression_names_returns():
    [error] = validation_errors(nodes(("a", [])), returns={"r": "{{ nodes.( }}"})
    assert error["loc"] == ["body", "returns", "r"]


def test_find_cycle_handles_a_long_chain_without_recursion():
    chain = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(5000)}
    assert find_cycle(chain) is None
    chain["n0"] = ["n4999"]
    cycle = find_cycle(chain)
    assert cycle is not None and len(cycle) == 5001


def test_roots_leaves_and_children_of_a_diamond():
    parents = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c", "b"]}
    assert roots(parents) == ["a"]
    assert leaves(parents) == ["d"]
    assert children_of(parents) == {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}


def spec(ref, **fields):
    return NodeSpec(ref=ref, kind=fields.pop("kind", "transform"), **fields)


@pytest.mark.parametrize(
    ("nodes_", "loc", "fragment"),
    [
        ([spec("a"), spec("b", depends_on=["a.done"])], ["depends_on", 0], "must be"),
        ([spec("a", fallback="zz")], ["fallback"], "unknown ref"),
        ([spec("a", fallback="a")], ["fallback"], "own fallback"),
        ([spec("a", run_if="input.x")], ["run_if"], "{{ expr }}"),
        ([spec("a", run_if="{{ input.( }}")], ["run_if"], "expression"),
        ([spec("a", for_each="{{ input.xs }}", kind="wait", start_delay=1)], ["for_each"], "loop"),
        ([spec("a", for_each="{{ input.xs }}", kind="approval")], ["for_each"], "loop"),
        ([spec("a", kind="wait")], ["kind"], "start_delay or wait_until"),
        ([spec("a", wait_until="2026-01-01T00:00:00")], ["wait_until"], "offset"),
        ([spec("a", wait_until="tomorrow")], ["wait_until"], "ISO 8601"),
        ([spec("a", retry={"retry_until": "{{ ) }}"})], ["retry", "retry_until"], "expression"),
    ],
)
def test_node_field_rules_name_the_field(nodes_, loc, fragment):
    errors = validation_errors(nodes_)
    index = len(nodes_) - 1
    matching = [e for e in errors if e["loc"] == ["body", "nodes", index, *loc]]
    assert matching, errors
    assert fragment in matching[0]["msg"]


def test_an_action_node_may_loop_over_items():
    """One delivery per item; the other waiting kinds still may not."""
    looping = spec("a", for_each="{{ input.xs }}", kind="action", action="x", max_concurrency=3)
    assert validation_errors([looping]) == []


def test_a_fallback_closing_a_loop_is_a_cycle():
    [error] = validation_errors([spec("a", fallback="b", depends_on=["b"]), spec("b")])
    assert error["type"] == "cycle"


def test_valid_edges_fallbacks_and_delays_pass():
    nodes_ = [
        spec("a", fallback="rescue", retry={"max_attempts": 3, "retry_until": "{{ result }}"}),
        spec("rescue"),
        spec("b", depends_on=["a.success", "rescue"], join_strategy="any"),
        spec("w", kind="wait", wait_until="2026-01-01T00:00:00Z", depends_on=["b"]),
        spec("when", run_if="{{ input.go }}", start_delay=5, depends_on=["a.error"]),
    ]
    assert validation_errors(nodes_) == []


def test_a_negative_delay_is_refused_by_the_model():
    with pytest.raises(ValueError, match="start_delay"):
        NodeSpec(ref="a", kind="transform", start_delay=-1)
