"""make audit's template gate (tools/audit/checkov_gate.py): what it lets through and what not,
on checkov's JSON shape (the scan itself runs in make audit, not here)."""

from pathlib import Path

from tools.audit.checkov_gate import SUPPRESSIONS, Suppression, findings, judge, parse

REPORT = {
    "check_type": "cloudformation",
    "results": {
        "failed_checks": [
            {"check_id": "CKV_AWS_27", "check_name": "SQS", "resource": "AWS::SQS::Queue.A"},
            {"check_id": "CKV_AWS_27", "check_name": "SQS", "resource": "AWS::SQS::Queue.B"},
            {"check_id": "CKV_AWS_21", "check_name": "S3", "resource": "AWS::S3::Bucket.P"},
        ]
    },
}


def test_every_finding_must_be_suppressed_with_a_reason():
    failed = findings(REPORT)
    everything, problems = parse("CKV_AWS_27 * encrypted by SSE-SQS\nCKV_AWS_21 P kept short\n")
    assert problems == [] and judge(failed, everything) == []
    partial, _ = parse("CKV_AWS_27 A encrypted by SSE-SQS\nCKV_AWS_21 P kept short\n")
    assert judge(failed, partial) == ["CKV_AWS_27 B: SQS"]  # a new queue is a new finding


def test_a_suppression_without_a_reason_or_matching_nothing_fails():
    _, problems = parse("CKV_AWS_27 *\n")
    assert problems == ["line 1: a suppression needs a check, resources and a reason"]
    stale = [
        Suppression("CKV_AWS_27", frozenset(), "r"),
        Suppression("CKV_AWS_21", frozenset({"P", "Gone"}), "r"),
        Suppression("CKV_AWS_99", frozenset(), "r"),
    ]
    assert judge(findings(REPORT), stale) == [
        "suppression CKV_AWS_21 Gone matches nothing",
        "suppression CKV_AWS_99 * matches nothing",
    ]


def test_the_projects_suppressions_all_have_reasons():
    suppressions, problems = parse(Path(SUPPRESSIONS).read_text())
    assert suppressions and problems == []
    assert all(len(s.reason.split()) >= 5 for s in suppressions)
