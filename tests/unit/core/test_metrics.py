"""The metrics port: only declared, bounded dimensions, and nothing an invocation recorded is
lost when its handler raises."""

import json

import pytest

from stepwise.core import metrics
from stepwise.core.metrics import Metric


def emitted(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_an_undeclared_or_unbounded_dimension_is_refused(capsys):
    with pytest.raises(ValueError, match="dimensions"):
        metrics.count(Metric.RUNS_SETTLED, "acme", Status="failed", org_id_dim="acme")
    with pytest.raises(ValueError, match="dimensions"):
        metrics.count(Metric.NODE_ATTEMPTS, "acme")
    with pytest.raises(ValueError, match="not one of"):
        metrics.count(Metric.RUNS_SETTLED, "acme", Status="run_01abc")
    assert emitted(capsys) == []


def test_a_handler_that_raises_still_prints_what_it_recorded(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Elsewhere")

    @metrics.flushed
    def handler():
        metrics.count(Metric.NODE_ATTEMPTS, "acme", Kind="wait")
        metrics.count(Metric.NODE_ATTEMPTS, "globex", Kind="wait")
        metrics.count(Metric.NODE_FAILURES, "acme", Kind="wait")
        assert emitted(capsys) == []  # held until the handler ends
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handler()
    lines = emitted(capsys)
    assert [line["org_id"] for line in lines] == ["acme", "globex"]  # one line per org
    assert lines[0]["NodeAttempts"] == [1.0] and lines[0]["NodeFailures"] == [1.0]
    assert lines[0]["Kind"] == "wait"
    assert {line["_aws"]["CloudWatchMetrics"][0]["Namespace"] for line in lines} == {"Elsewhere"}


def test_outside_a_handler_a_metric_prints_at_once(capsys):
    metrics.measure(Metric.WEBHOOK_LATENCY, 12.5, "acme")
    [line] = emitted(capsys)
    assert line["WebhookLatency"] == [12.5]
    assert line["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "WebhookLatency", "Unit": "Milliseconds"}
    ]


def test_more_than_a_hundred_values_in_one_invocation_all_print(capsys, recwarn):
    @metrics.flushed
    def handler():
        for _ in range(200):
            metrics.count(Metric.RUNS_STARTED, "acme")

    handler()
    lines = emitted(capsys)
    assert sum(len(line["RunsStarted"]) for line in lines) == 200  # EMF takes 100 per line
    assert all(len(line["RunsStarted"]) <= 100 for line in lines)
    assert not [w for w in recwarn if "No application metrics" in str(w.message)]
