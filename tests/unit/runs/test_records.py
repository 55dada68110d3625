"""Items parsed once into typed records: DynamoDB's Decimals and sets converted, attempts keyed
by number, payloads as references."""

from decimal import Decimal

from stepwise.runs.records import NodeRecord, PayloadRef, RunRecord


def test_a_node_item_becomes_a_record_with_plain_values():
    node = NodeRecord.from_item(
        {
            "PK": "ORG#acme#RUN#r",
            "SK": "NODE#a",
            "ref": "a",
            "kind": "action",
            "status": "running",
            "attempt": Decimal(2),
            "position": Decimal(0),
            "attempts": {
                "1": {
                    "attempt": Decimal(1),
                    "status": "retry_scheduled",
                    "error": {"type": "Busy", "message": "later"},
                    "delivery": {"kind": "failure", "retry_after": Decimal(30)},
                },
                "2": {"attempt": Decimal(2), "status": "running", "heartbeats": Decimal(3)},
            },
            "satisfied_edges": {"b.success"},
            "output_s3": "acme/r/nodes/a/output.json",
            "action_input": '{"n":1.5}',
        }
    )
    assert (node.attempt, node.position) == (2, 0) and isinstance(node.attempt, int)
    assert list(node.attempts) == [1, 2]
    assert node.attempt_record(1).delivery == {"kind": "failure", "retry_after": 30}
    assert isinstance(node.attempt_record(1).delivery["retry_after"], int)
    assert node.attempt_record(2).heartbeats == 3 and node.attempt_record(3) is None
    assert node.satisfied_edges == frozenset({"b.success"}) and node.failed_edges == frozenset()
    assert node.output == PayloadRef(None, "acme/r/nodes/a/output.json")
    assert node.action_input == PayloadRef('{"n":1.5}', None) and not node.signal_result


def test_a_run_item_with_only_its_required_attributes_is_a_record_with_defaults():
    run = RunRecord.from_item(
        {
            "org_id": "acme",
            "run_id": "run_1",
            "workflow_id": "wf_1",
            "status": "running",
            "created_at": "2026-12-01T00:00:00+00:00",
            "timeout": Decimal(3600),
        }
    )
    assert (run.kind, run.tags, run.actions, run.timeout) == ("workflow", {}, (), 3600)
    assert not run.input and not run.settling
    settling = RunRecord.from_item({**_run(), "settle_requested_at": "2026-12-01T00:00:01Z"})
    assert settling.settling
    assert RunRecord.from_item({**_run(), "status": "succeeded"}).settling


def test_fractional_numbers_inside_attempt_maps_stay_fractional():
    node = NodeRecord.from_item(
        {"ref": "a", "status": "failed", "error": {"type": "X", "score": Decimal("0.25")}}
    )
    assert node.error == {"type": "X", "score": 0.25}


def _run():
    return {
        "org_id": "acme",
        "run_id": "run_1",
        "workflow_id": "wf_1",
        "status": "running",
        "created_at": "2026-12-01T00:00:00+00:00",
    }
