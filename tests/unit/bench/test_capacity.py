"""The capacity model in docs/operations.md: its arithmetic, and that the doc shows what the
bench measured."""

import json

import pytest

from bench import capacity
from stepwise_local.template import load_template


def _billed(**values: float) -> dict[str, float]:
    base = {"transitions": 0.0, "lambda_gb_seconds": 0.0, "write_units": 0.0, "read_units": 0.0}
    return {**base, **values}


def _per_unit(webhook: dict[str, float], run: dict[str, float]) -> dict:
    other = _billed()
    return {
        "webhook_node": {"billed": webhook},
        "run_overhead": {"billed": run},
        "native_node": {"billed": other},
        "for_each_item": {"billed": other},
    }


def _quota(name: str) -> capacity.Quota:
    return next(q for q in capacity.QUOTAS if q.name == name)


TRANSITIONS = "Step Functions StateTransition (Standard)"
STARTS = "Step Functions StartExecution (Standard)"
LAMBDA = "Lambda concurrent executions"


def test_a_quota_allows_its_rate_divided_by_what_one_unit_takes():
    transitions = _quota(TRANSITIONS)
    assert capacity.allowed(transitions, _billed(transitions=6)) == pytest.approx(250)
    assert capacity.allowed(transitions, _billed()) is None  # takes none: no bound


def test_lambda_concurrency_is_invocation_time_at_the_configured_memory():
    # 0.25 GB-s at 0.5 GB is half a second of one execution: 1,000 concurrent allow 2,000 a second
    assert capacity.allowed(_quota(LAMBDA), _billed(lambda_gb_seconds=0.25)) == pytest.approx(2000)


def test_the_target_counts_its_runs_as_well_as_its_nodes():
    per_unit = _per_unit(webhook=_billed(executions_started=1), run=_billed(executions_started=1))
    # 1,000 nodes and 200 runs a second, each starting one execution
    assert capacity.needed(_quota(STARTS), per_unit) == pytest.approx(1200)


def test_the_binding_quota_is_the_one_that_allows_least():
    per_unit = _per_unit(webhook=_billed(transitions=6, executions_started=1), run=_billed())
    name, rate = capacity.binding(per_unit, "webhook_node")
    assert (name, rate) == (TRANSITIONS, pytest.approx(250))
    assert capacity.binding(per_unit, "native_node") is None


def test_the_rendering_names_what_to_raise_for_the_target():
    per_unit = _per_unit(webhook=_billed(transitions=6), run=_billed(transitions=2))
    text = capacity.render({"commit": "abc", "date": "d", "cost": {"per_unit": per_unit}})
    assert "raise: Step Functions StateTransition (Standard) (6,400/s needed" in text


def test_the_doc_shows_the_table_of_the_last_bench():
    results = json.loads(capacity.RESULTS.read_text())
    assert capacity.written(capacity.OPERATIONS) == capacity.render(results), (
        "docs/operations.md's capacity table is not what bench/results.json gives: run `make "
        "bench` (or `python -m bench.capacity`) and commit both"
    )


def test_write_into_replaces_only_what_stands_between_the_markers(tmp_path):
    doc = tmp_path / "ops.md"
    doc.write_text(f"before\n{capacity.BEGIN}\nold\n{capacity.END}\nafter\n")
    capacity.write_into(doc, "new table")
    assert doc.read_text() == f"before\n{capacity.BEGIN}\nnew table\n{capacity.END}\nafter\n"
    doc.write_text("no markers")
    with pytest.raises(ValueError, match="no capacity markers"):
        capacity.write_into(doc, "x")


def test_every_function_has_the_memory_the_model_assumes():
    template = load_template(capacity.ROOT / "template.yaml")
    default = template["Globals"]["Function"]["MemorySize"]
    assert default / 1024 == capacity.LAMBDA_MEMORY_GB
    functions = {
        name: r.get("Properties", {})
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert functions
    assert {n: p.get("MemorySize", default) for n, p in functions.items()} == dict.fromkeys(
        functions, default
    )
