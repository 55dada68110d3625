"""One engine step that makes many nodes ready paces their StartExecution calls at the
template's NodeStartRate, instead of spending the account's StartExecution bucket at once."""

import json

import pytest

from stepwise import components
from stepwise.engine.start_pace import StartPace
from stepwise.infra import executions
from stepwise_local.template import load_template
from tests.helpers import deliver, http_event

ORG = "acme"


def api(stack, method, path, body=None):
    response = stack.invoke("ApiFunction", http_event(method, path, body))
    return json.loads(response["body"])


def test_the_engine_starts_nodes_at_the_templates_rate(stack):
    default = load_template()["Parameters"]["NodeStartRate"]["Default"]
    assert components.engine().advance.starts.rate == float(default)


def test_a_step_starting_thirty_roots_paces_them(stack, monkeypatch):
    advance = components.engine().advance
    monkeypatch.setattr(advance, "inline_limit", 0)  # every root gets an execution
    now = [0.0]
    monkeypatch.setattr(
        advance,
        "starts",
        StartPace(10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)),
    )
    started: list[float] = []
    for name in ("start_node", "start_express_node"):  # transforms run as Express executions
        real_start = getattr(executions, name)

        def start_node(*args, real_start=real_start):
            started.append(now[0])
            return real_start(*args)

        monkeypatch.setattr(executions, name, start_node)
    nodes = [{"ref": f"n{i:02d}", "kind": "transform", "args": i} for i in range(30)]
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", {"name": "wide", "nodes": nodes})
    run = api(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["data"]["id"]})[
        "data"
    ]
    deliver(stack, "start", run["id"])
    assert len(started) == 30
    assert started[:10] == [0.0] * 10
    assert started[10:] == pytest.approx([(k - 9) / 10 for k in range(10, 30)])
