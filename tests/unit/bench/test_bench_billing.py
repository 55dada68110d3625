"""The bench's billing rules: DynamoDB request units from item sizes, Standard transitions,
Express requests and GB-seconds, and prices."""

import pytest

from bench.billing import Bill, load_prices, plain_step_functions_usd, temporal_cloud_usd
from bench.executions import (
    ExecutionBill,
    belongs_to,
    express_gb_seconds,
    machine_types,
    transitions_of,
)
from bench.meter import Usage, _read_units


def test_read_units_are_per_4kb_and_half_when_eventually_consistent():
    assert _read_units(100, consistent=True) == 1
    assert _read_units(4097, consistent=True) == 2
    assert _read_units(4097, consistent=False) == 1
    assert _read_units(0, consistent=False) == 0.5


def test_a_bill_is_priced_from_the_price_file():
    prices = load_prices()
    bill = Bill(transitions=1000, write_units=1_000_000, lambda_invocations=1_000_000)
    usd = bill.usd(prices)
    assert usd["stepfunctions"] == pytest.approx(0.025)
    assert usd["dynamodb"] == pytest.approx(0.625)
    assert usd["lambda"] == pytest.approx(0.2)
    assert usd["total"] == pytest.approx(0.85)
    assert ((bill - bill) * 3).usd(prices)["total"] == 0
    assert (bill / 1000).transitions == 1


def test_the_alternatives_are_priced_per_node():
    prices = load_prices()
    assert temporal_cloud_usd(1000, prices) == pytest.approx(0.05)
    # A transition and an invocation per node; no duration, no DynamoDB.
    assert plain_step_functions_usd(1000, 0, prices) == pytest.approx(0.025 + 0.0002)
    assert all(item["source"].startswith("https://") for item in prices["items"].values())


# -- Express and Standard executions -------------------------------------------------------------

GB_SECOND_AT_64_MB_PER_100_MS = 0.1 * 64 / 1024


@pytest.mark.parametrize(
    ("seconds", "steps"),
    [
        (0.0, 1),  # at least 100 ms
        (0.001, 1),
        (0.1, 1),  # exactly 100 ms is one step, not two
        (0.1001, 2),  # rounded up, never to the nearest
        (0.25, 3),
        (1.0, 10),
    ],
)
def test_express_duration_is_billed_in_100_ms_steps_rounded_up(seconds, steps):
    assert express_gb_seconds(seconds) == pytest.approx(steps * GB_SECOND_AT_64_MB_PER_100_MS)


def test_express_memory_is_billed_in_64_mb_chunks_at_least_one():
    assert express_gb_seconds(0.1, memory_mb=1) == pytest.approx(GB_SECOND_AT_64_MB_PER_100_MS)
    assert express_gb_seconds(0.1, memory_mb=64) == pytest.approx(GB_SECOND_AT_64_MB_PER_100_MS)
    assert express_gb_seconds(0.1, memory_mb=65) == pytest.approx(2 * GB_SECOND_AT_64_MB_PER_100_MS)


def test_express_executions_are_priced_per_request_and_gb_second():
    prices = load_prices()
    # 1,000 executions of 150 ms each: 1,000 requests and 1,000 x 200 ms at 64 MB
    gb_seconds = 1000 * express_gb_seconds(0.15)
    bill = Bill(express_requests=1000, express_gb_seconds=gb_seconds)
    usd = bill.usd(prices)
    assert usd["stepfunctions_express"] == pytest.approx(0.001 + 12.5 * 0.00001667)
    assert usd["stepfunctions"] == 0  # no Standard transition
    assert usd["total"] == pytest.approx(usd["stepfunctions_express"])
    items = prices["items"]
    assert items["stepfunctions_express_request"]["usd"] == 0.000001
    assert items["stepfunctions_express_gb_second"]["usd"] == 0.00001667
    assert "64 MB" in prices["note"] and "100 ms" in prices["note"]


def test_a_bill_of_executions_carries_transitions_and_express_usage():
    executions = ExecutionBill(transitions=6, express_requests=2, express_gb_seconds=0.0125)
    bill = Bill.of(Usage(), executions, api_requests=1)
    assert (bill.transitions, bill.express_requests, bill.express_gb_seconds) == (6, 2, 0.0125)
    assert Bill.of(Usage(), 4, api_requests=0).transitions == 4  # a plain transition count


def test_standard_transitions_are_the_states_entered():
    events = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "TaskScheduled"},
        {"type": "TaskStateExited"},
        {"type": "ChoiceStateEntered"},
        {"type": "MapStateEntered"},
        {"type": "PassStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    assert transitions_of(events) == 4


def test_an_execution_is_the_runs_when_its_input_names_the_run_or_a_child():
    assert belongs_to({"run_id": "run_1"}, "run_1")
    assert belongs_to({"run_id": "run_1.child"}, "run_1")
    assert not belongs_to({"run_id": "run_10"}, "run_1")
    assert not belongs_to({"org_id": "acme"}, "run_1")
    assert not belongs_to([], "run_1")


def test_machine_types_come_from_every_state_machine_of_the_template(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  A:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      Type: EXPRESS\n"
        "  B:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      Type: STANDARD\n"
        "  C:\n    Type: AWS::Serverless::StateMachine\n    Properties: {}\n"
        "  Q:\n    Type: AWS::SQS::Queue\n"
    )
    assert machine_types(template) == {"A": "EXPRESS", "B": "STANDARD", "C": "STANDARD"}
    # The project's own template: every state machine it declares, whatever their number.
    declared = machine_types()
    assert declared and set(declared.values()) <= {"STANDARD", "EXPRESS"}
