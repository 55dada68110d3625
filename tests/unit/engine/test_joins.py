"""Edge outcomes and join decisions, the rules every scheduling decision follows."""

import pytest

from stepwise.engine.joins import Decision, Edge, EdgeKind, EdgeOutcome, edge_outcome, join_decision

S, E = EdgeKind.SUCCESS, EdgeKind.ERROR


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (S, "succeeded", EdgeOutcome.SATISFIED),
        (S, "failed", EdgeOutcome.FAILED),
        (S, "skipped", EdgeOutcome.SKIPPED),
        (S, "cancelled", EdgeOutcome.SKIPPED),
        (E, "succeeded", EdgeOutcome.SKIPPED),
        (E, "failed", EdgeOutcome.SATISFIED),
        (E, "skipped", EdgeOutcome.SKIPPED),
    ],
)
def test_edge_outcomes(kind, status, expected):
    assert edge_outcome(kind, status) == expected


def test_edges_parse_with_and_without_suffix():
    assert Edge.parse("a") == Edge("a", S) == Edge.parse("a.success")
    assert Edge.parse("a.error").key == "a.error"
    with pytest.raises(ValueError, match="must be"):
        Edge.parse("a.done")


EDGES = {"a.success", "b.success"}


@pytest.mark.parametrize(
    ("satisfied", "failed", "skipped", "expected"),
    [
        (set(), set(), set(), Decision.WAIT),
        ({"a.success"}, set(), set(), Decision.WAIT),
        ({"a.success", "b.success"}, set(), set(), Decision.RUN),
        ({"a.success"}, set(), {"b.success"}, Decision.RUN),  # one skipped parent: still runs
        (set(), set(), {"a.success", "b.success"}, Decision.SKIP),
        (set(), {"a.success"}, set(), Decision.SKIP),  # can never run: skip at once
        ({"b.success"}, {"a.success"}, set(), Decision.SKIP),
    ],
)
def test_all_join(satisfied, failed, skipped, expected):
    assert join_decision("all", EDGES, satisfied, failed, skipped) == expected


@pytest.mark.parametrize(
    ("satisfied", "failed", "skipped", "expected"),
    [
        (set(), set(), set(), Decision.WAIT),
        ({"a.success"}, set(), set(), Decision.RUN),  # the first success is enough
        (set(), {"a.success"}, set(), Decision.WAIT),  # b may still succeed
        (set(), {"a.success"}, {"b.success"}, Decision.SKIP),
        ({"b.success"}, {"a.success"}, set(), Decision.RUN),
    ],
)
def test_any_join(satisfied, failed, skipped, expected):
    assert join_decision("any", EDGES, satisfied, failed, skipped) == expected


def test_edges_of_other_nodes_are_ignored():
    assert join_decision("all", {"a.success"}, {"z.success"}, set(), set()) == Decision.WAIT
