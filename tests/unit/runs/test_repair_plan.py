"""Which outcomes a redrive or a rerun keeps (pure): the rules of docs/engine.md, "Repairing
runs"."""

from stepwise.engine.compiled import CompiledWorkflow
from stepwise.runs.records import NodeRecord
from stepwise.runs.repair_plan import plan_repair, rerun_forced
from stepwise.workflows.models import Workflow


def compiled(*nodes: dict, version: int = 1) -> CompiledWorkflow:
    return CompiledWorkflow(
        Workflow.model_validate(
            {
                "id": "wf_1",
                "org_id": "acme",
                "name": "w",
                "version": version,
                "nodes": [{"kind": "transform", "args": {"ref": n["ref"]}, **n} for n in nodes],
                "created_at": "2026-12-01T00:00:00+00:00",
                "description": None,
                "returns": None,
                "timeout": 3600,
            }
        )
    )


def records(**statuses: str) -> dict[str, NodeRecord]:
    return {
        ref: NodeRecord(ref, status.split(":")[0], skip_reason=[*status.split(":"), None][1])
        for ref, status in statuses.items()
    }


CHAIN = compiled({"ref": "a"}, {"ref": "b", "depends_on": ["a"]}, {"ref": "c", "depends_on": ["b"]})


def test_succeeded_nodes_stand_and_the_failed_and_unreached_run_again():
    plan = plan_repair(CHAIN, CHAIN, records(a="succeeded", b="failed", c="cancelled"), False)
    assert set(plan.kept) == {"a"} and set(plan.again) == {"b", "c"} and not plan.errors


def test_a_handled_failure_stands_with_its_handler():
    graph = compiled(
        {"ref": "a"},
        {"ref": "h", "depends_on": ["a.error"]},
        {"ref": "z", "depends_on": ["h"]},
    )
    plan = plan_repair(graph, graph, records(a="failed", h="succeeded", z="failed"), False)
    assert set(plan.kept) == {"a", "h"} and set(plan.again) == {"z"}


def test_a_skip_stands_only_while_what_decided_it_does():
    graph = compiled(
        {"ref": "a"},
        {"ref": "b", "depends_on": ["a"]},
        {"ref": "s", "depends_on": ["b"]},  # skipped because b failed
        {"ref": "r", "depends_on": ["a"], "run_if": "{{ input.go }}"},
    )
    nodes = records(a="succeeded", b="failed", s="skipped:dependency b failed")
    nodes.update(records(r="skipped:run_if was false"))
    same_input = plan_repair(graph, graph, nodes, input_replaced=False)
    assert set(same_input.kept) == {"a", "r"} and set(same_input.again) == {"b", "s"}
    new_input = plan_repair(graph, graph, nodes, input_replaced=True)
    assert set(new_input.again) == {"b", "s", "r"}


def test_a_new_version_refuses_a_kept_node_whose_output_fields_changed():
    v2 = compiled(
        {"ref": "a", "args": {"other": True}},
        {"ref": "b", "depends_on": ["a"]},
        {"ref": "c", "depends_on": ["b"]},
        version=2,
    )
    plan = plan_repair(CHAIN, v2, records(a="succeeded", b="failed", c="pending"), False)
    assert [e["loc"] for e in plan.errors] == [["body", "workflow_version", "a"]]
    assert "args" in plan.errors[0]["msg"]
    # The node that runs again may change freely; nodes come and go by ref.
    v3 = compiled({"ref": "a"}, {"ref": "b2", "depends_on": ["a"]}, version=3)
    plan = plan_repair(CHAIN, v3, records(a="succeeded", b="failed", c="pending"), False)
    assert not plan.errors and plan.added == ["b2"] and sorted(plan.dropped) == ["b", "c"]


def test_a_kept_handled_failure_whose_handler_is_gone_does_not_fit():
    graph = compiled({"ref": "a"}, {"ref": "h", "depends_on": ["a.error"]})
    v2 = compiled({"ref": "a"}, {"ref": "h", "depends_on": ["a"]}, version=2)
    plan = plan_repair(graph, v2, records(a="failed", h="succeeded"), False)
    assert {e["loc"][-1] for e in plan.errors} == {"a", "h"}


def test_a_rerun_runs_its_node_and_everything_downstream():
    graph = compiled(
        {"ref": "a"},
        {"ref": "b", "depends_on": ["a"]},
        {"ref": "c", "depends_on": ["a"]},
        {"ref": "d", "depends_on": ["b", "c"]},
    )
    nodes = records(a="succeeded", b="succeeded", c="succeeded", d="succeeded")
    plan = plan_repair(graph, graph, nodes, False, rerun_forced(graph, "c"))
    assert set(plan.kept) == {"a", "b"} and set(plan.again) == {"c", "d"}
