"""The per-node budgets of `make bench`, as counts: a regression in what a node costs fails CI.

Counts, not times: billed transitions, Lambda invocations and DynamoDB write units of a native
(inline) node, measured by the bench's own meter on real runs of the local stack."""

import pytest

from bench import cost
from bench.aws_time import DESTINATION_SECONDS


@pytest.fixture(scope="module")
def measured():
    return cost.measure()["per_unit"]


def test_a_native_node_costs_no_transition_no_invocation_and_three_write_units(measured):
    native = measured["native_node"]["billed"]
    assert native["transitions"] == 0
    assert native["lambda_invocations"] == 0
    assert native["write_units"] == 3


def test_a_native_node_that_emits_an_event_costs_one_write_unit_more(measured):
    """emit_event's documented price: the event item (under 1 KB here), nothing else."""
    emitting = measured["emitting_native_node"]["billed"]
    assert emitting["transitions"] == 0
    assert emitting["lambda_invocations"] == 0
    assert emitting["write_units"] == 4


def test_a_thousand_native_nodes_cost_less_than_a_cent(measured):
    assert measured["native_node"]["usd_per_1000"]["total"] < 0.01
    assert measured["native_node"]["temporal_cloud_usd_per_1000"] == pytest.approx(0.05)


def test_a_webhook_node_answered_at_once_runs_in_one_express_execution(measured):
    """No Standard transition (they cost more than the node's whole budget): one Express
    execution per node, Attempt -> DeliverNow -> ActionSettled. (Its invocations are not
    asserted exactly: Lambda retries under load may add some.)"""
    billed = measured["webhook_node"]["billed"]
    assert billed["transitions"] == 0
    assert billed["express_requests"] == 1


def test_a_retried_webhook_attempt_stays_in_its_express_execution(measured):
    billed = measured["retried_attempt"]["billed"]
    assert billed["transitions"] == 0
    assert billed["express_requests"] == 0


def test_a_retried_attempt_is_measured_against_a_warm_destination(measured):
    """Both runs it compares deliver to destinations used before (their signing secrets
    cached): a first use's secret read ($0.005 per 1,000) is not the retry's."""
    assert measured["retried_attempt"]["billed"]["secrets_calls"] == 0


def test_a_run_has_no_standard_execution(measured):
    assert measured["run_overhead"]["billed"]["transitions"] == 0
    assert measured["run_overhead"]["billed"]["express_requests"] == 0


def test_a_webhook_nodes_lambda_bill_holds_its_destinations_time_not_the_local_wall(measured):
    """Billed as AWS would run it (bench/aws_time.py): at least the destination's 100 ms at
    512 MB; the in-process wall time is measured apart and never billed."""
    billed = measured["webhook_node"]["billed"]
    assert billed["lambda_gb_seconds"] >= DESTINATION_SECONDS * 512 / 1024
    assert billed["lambda_wall_gb_seconds"] > 0
    assert billed["lambda_gb_seconds"] != billed["lambda_wall_gb_seconds"]


def test_a_run_costs_at_most_24_write_units(measured):
    """Create, start and finish (docs/cost.md lists each write): no index entry that copies the
    whole run item, the lifecycle event claimed in the finish transaction, no item for full
    progress buckets in a run of one bucket. 29 write units before, under the same meter."""
    assert measured["run_overhead"]["billed"]["write_units"] <= 24


def test_a_runs_timers_are_billed_when_they_come_back_after_it_ended(measured):
    """The run's deadline message is still delayed when the run ends; the bench makes it due
    and bills the engine invocation that drops it (create, start and finish are two)."""
    assert measured["run_overhead"]["billed"]["lambda_invocations"] >= 3
    acked = measured["webhook_ack_callback_node"]["billed"]
    assert acked["transitions"] == 0 and acked["express_requests"] == 1


def test_a_run_publishes_one_billed_lifecycle_event_and_a_node_none(measured):
    """EventBridge bills each PutEvents entry: the run's lifecycle event, $1 per million."""
    run = measured["run_overhead"]
    assert run["billed"]["events"] == 1
    assert run["usd_per_1000"]["eventbridge"] == pytest.approx(0.001)
    for unit in ("native_node", "webhook_node", "webhook_ack_callback_node", "for_each_item"):
        assert measured[unit]["billed"]["events"] == 0, unit


def test_a_runs_sqs_requests_are_its_run_queue_messages_only(measured):
    """Its start and its deadline, each sent, received and deleted once. The local stack's
    lifecycle-events queue (a consumer's rule, on AWS) adds nothing, nor do empty receives."""
    assert measured["run_overhead"]["billed"]["sqs_requests"] == 6
    assert measured["native_node"]["billed"]["sqs_requests"] == 0
