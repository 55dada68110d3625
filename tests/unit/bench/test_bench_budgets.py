"""The bench's budgets: checked against what was measured, reported, and a broken one fails
`make bench` (after everything is written)."""

import copy
import json

import pytest

from bench import __main__ as bench_main
from bench import budgets, capacity, readme


@pytest.fixture
def recorded():
    """The results of the last `make bench`, section by section."""
    return json.loads(readme.RESULTS.read_text())


def _steps(results):
    names = ("cold_start", "api_overhead", "cost", "throughput", "profiles", "dispatcher")
    return [(name, lambda name=name: copy.deepcopy(results[name])) for name in names]


def _files(tmp_path):
    readme_path = tmp_path / "README.md"
    readme_path.write_text(f"intro\n{readme.BEGIN}\nold\n{readme.END}\n")
    operations = tmp_path / "operations.md"
    operations.write_text(f"{capacity.BEGIN}\nold\n{capacity.END}\n")
    return readme_path, operations


def _cost(results, unit, total):
    results["cost"]["per_unit"][unit]["usd_per_1000"]["total"] = total


def test_every_row_of_the_issue_has_a_dollar_budget():
    assert set(budgets.ROW_BUDGETS) == set(budgets.ROWS)
    limits = {b.name: (b.limit, b.aim) for b in budgets.BUDGETS}
    assert limits["usd_per_1000_webhook_nodes_answered_at_once"] == (0.02, 0.01)
    assert limits["usd_per_1000_webhook_nodes_ack_then_callback"] == (0.06, 0.04)
    assert limits["usd_per_1000_retried_webhook_attempts"] == (0.02, None)
    assert limits["usd_per_1000_for_each_items"] == (0.01, None)
    assert limits["usd_per_1000_runs"] == (0.03, 0.02)
    assert limits["usd_per_1000_native_nodes"] == (0.003, None)


def test_a_budget_passes_at_its_limit_and_an_aim_is_only_reported(recorded):
    _cost(recorded, "run_overhead", 0.025)  # under the budget, over the aim
    _cost(recorded, "webhook_node", 0.02)  # at the budget exactly
    checked = {b["budget"]: b for b in budgets.check(recorded)}
    run = checked["usd_per_1000_runs"]
    assert (run["passed"], run["aim_met"]) == (True, False)
    assert checked["usd_per_1000_webhook_nodes_answered_at_once"]["passed"] is True
    assert checked["usd_per_1000_retried_webhook_attempts"]["aim_met"] is None
    assert run["label"] == "run (create, start, finish), $ per 1,000"


def test_main_fails_when_a_budget_breaks_after_writing_everything(recorded, tmp_path, capsys):
    for unit in budgets.ROWS:
        _cost(recorded, unit, 0.001)  # every dollar budget holds
    recorded["cost"]["per_unit"]["native_node"]["billed"].update(
        transitions=0, lambda_invocations=0, write_units=3
    )
    recorded["cold_start"]["api"]["ratio_to_bare_fastapi_mangum"] = 1.0
    readme_path, operations = _files(tmp_path)
    assert bench_main.main(_steps(recorded), tmp_path, readme_path, operations) == 0

    _cost(recorded, "webhook_ack_callback_node", 0.0601)
    assert bench_main.main(_steps(recorded), tmp_path, readme_path, operations) == 1
    assert "failed: usd_per_1000_webhook_nodes_ack_then_callback" in capsys.readouterr().out
    written = json.loads((tmp_path / "results.json").read_text())
    assert [b["budget"] for b in written["budgets"] if not b["passed"]] == [
        "usd_per_1000_webhook_nodes_ack_then_callback"
    ]
    assert (
        "| webhook node with `ack` then callback, $ per 1,000 | ≤ $0.06 | $0.0601 | **FAIL**"
        in (tmp_path / "REPORT.md").read_text()
    )
    assert "(**over**)" in readme.written(readme_path)
    assert capacity.written(operations) == capacity.render(written)
