"""Node semantics end to end: edges, joins, run_if, fallbacks, delays, retries (real executions)."""

from datetime import UTC, datetime, timedelta

from stepwise.infra.executions import node_execution_name
from tests.e2e.conftest import wait_for_run


def run_workflow(api, nodes, run_input=None, **workflow):
    created = api.post("/workflows", json={"name": "t", "nodes": nodes, **workflow})
    assert created.status_code == 201, created.text
    started = api.post(
        "/runs", json={"workflow_id": created.json()["data"]["id"], "input": run_input}
    )
    assert started.status_code == 201, started.text
    run = wait_for_run(api, started.json()["data"]["id"])
    return run, {n["ref"]: n for n in run["nodes"]}


def t(ref, **fields):
    return {"ref": ref, "kind": "transform", **fields}


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def test_an_all_join_with_one_skipped_and_one_succeeded_parent_runs(api):
    run, nodes = run_workflow(
        api,
        [
            t("yes", args={"v": 1}),
            t("no", run_if="{{ input.enabled }}", args={"v": 2}),
            t("join", depends_on=["yes", "no"], args={"got": "{{ nodes.yes.output.v }}"}),
        ],
        {"enabled": False},
    )
    assert run["status"] == "succeeded"
    assert nodes["no"]["status"] == "skipped"
    assert nodes["no"]["skip_reason"] == "run_if was false"
    assert nodes["join"]["status"] == "succeeded" and nodes["join"]["output"] == {"got": 1}


def test_skips_propagate_and_the_run_still_succeeds(api):
    run, nodes = run_workflow(
        api,
        [
            t("gate", run_if="{{ `false` }}"),
            t("after", depends_on=["gate"]),
            t("last", depends_on=["after"]),
        ],
    )
    assert run["status"] == "succeeded"
    assert [nodes[r]["status"] for r in ("gate", "after", "last")] == ["skipped"] * 3
    assert nodes["after"]["skip_reason"] == "no incoming edge was satisfied"
    assert all(n["attempts"] == [] for n in nodes.values())


def test_an_any_join_runs_once_when_several_parents_succeed(api, local_stack):
    # The parents wait a second each, so their executions settle at about the same time and
    # race to run the join; it runs inline, exactly once.
    parents = [t(ref, start_delay=1) for ref in "abc"]
    run, nodes = run_workflow(
        api, [*parents, t("first", depends_on=["a", "b", "c"], join_strategy="any")]
    )
    assert run["status"] == "succeeded"
    assert nodes["first"]["status"] == "succeeded" and len(nodes["first"]["attempts"]) == 1
    started = [e["name"] for e in local_stack.executions("NodeStateMachine")]
    names = {node_execution_name(run["id"], ref) for ref in nodes}
    assert sorted(n for n in started if n in names) == sorted(
        node_execution_name(run["id"], ref) for ref in "abc"
    )


def test_a_fallback_runs_on_failure_and_the_run_succeeds(api):
    run, nodes = run_workflow(
        api,
        [
            t("risky", args={"x": "{{ abs(input.word) }}"}, fallback="rescue"),
            t("rescue", args={"recovered_from": "{{ nodes.risky.error.type }}"}),
            t("on_success", depends_on=["risky"]),
        ],
        {"word": "not a number"},
    )
    assert run["status"] == "succeeded", run["error"]
    assert nodes["risky"]["status"] == "failed"
    assert nodes["rescue"]["output"] == {"recovered_from": "ExpressionError"}
    assert nodes["on_success"]["status"] == "skipped"
    assert nodes["on_success"]["skip_reason"] == "dependency risky failed"


def test_an_error_edge_is_skipped_when_the_parent_succeeds(api):
    run, nodes = run_workflow(
        api, [t("fine"), t("handler", depends_on=["fine.error"]), t("next", depends_on=["fine"])]
    )
    assert run["status"] == "succeeded"
    assert nodes["handler"]["status"] == "skipped" and nodes["next"]["status"] == "succeeded"


def test_retry_until_polls_with_growing_gaps_and_stops_once_true(api):
    run, nodes = run_workflow(
        api,
        [
            t(
                "poll",
                args={"n": 1},
                retry={
                    "max_attempts": 5,
                    "initial_interval": 1,
                    "backoff_coefficient": 2,
                    "retry_until": "{{ attempt >= `3` }}",
                },
            )
        ],
    )
    assert run["status"] == "succeeded"
    attempts = nodes["poll"]["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [
        (1, "retry_scheduled"),
        (2, "retry_scheduled"),
        (3, "succeeded"),
    ]
    gaps = [
        seconds_between(attempts[i]["completed_at"], attempts[i + 1]["started_at"]) for i in (0, 1)
    ]
    assert 1 <= gaps[0] < gaps[1] and gaps[1] >= 2, gaps
    assert [a["error"]["type"] for a in attempts[:2]] == ["RetryUntilNotMet"] * 2
    history = api.get(f"/runs/{run['id']}/history").json()["data"]
    retries = [e for e in history if e["event_type"] == "NODE_RETRY_SCHEDULED"]
    assert [(e["attempt"], e["failure"]["type"]) for e in retries] == [
        (1, "RetryUntilNotMet"),
        (2, "RetryUntilNotMet"),
    ]
    assert all(e["available_at"] for e in retries)


def test_retry_until_still_false_after_the_last_attempt_fails_the_node(api):
    run, nodes = run_workflow(
        api,
        [
            t(
                "poll",
                retry={"max_attempts": 2, "initial_interval": 0, "retry_until": "{{ `false` }}"},
            )
        ],
    )
    assert run["status"] == "failed"
    assert nodes["poll"]["error"]["type"] == "RetryUntilExhausted"
    assert len(nodes["poll"]["attempts"]) == 2


def test_a_non_retryable_error_stops_at_once(api):
    run, nodes = run_workflow(
        api,
        [t("bad", args={"x": "{{ abs('x') }}"}, retry={"max_attempts": 4, "initial_interval": 0})],
    )
    assert run["status"] == "failed" and run["error"]["node"] == "bad"
    assert len(nodes["bad"]["attempts"]) == 1


def test_start_delay_and_wait_nodes_wait_and_a_past_wait_until_does_not(api):
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    run, nodes = run_workflow(
        api,
        [
            t("late", start_delay=2),
            {
                "ref": "pause",
                "kind": "wait",
                "wait_until": "{{ input.until }}",
                "args": {"ok": True},
            },
        ],
        {"until": past},
    )
    assert run["status"] == "succeeded"
    late = nodes["late"]
    assert seconds_between(late["scheduled_at"], late["attempts"][0]["started_at"]) >= 2
    pause = nodes["pause"]
    # No wait at all; the bound only leaves room for a loaded machine (a wrong implementation
    # would wait the hour between the past time and now, or its absolute value).
    assert seconds_between(pause["scheduled_at"], pause["attempts"][0]["started_at"]) < 10
    assert pause["output"] == {"ok": True}


def test_a_wait_until_in_the_future_waits(api):
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    run, nodes = run_workflow(api, [{"ref": "pause", "kind": "wait", "wait_until": soon}])
    assert run["status"] == "succeeded"
    started = nodes["pause"]["attempts"][0]["started_at"]
    assert datetime.fromisoformat(started) >= datetime.fromisoformat(soon)


def test_for_each_gives_one_result_per_item_in_order(api, local_stack):
    run, nodes = run_workflow(
        api,
        [
            t("list", args={"xs": "{{ input.xs }}"}),
            t(
                "each",
                depends_on=["list"],
                for_each="{{ nodes.list.output.xs }}",
                max_concurrency=3,
                args={
                    "i": "{{ index }}",
                    "doubled": "{{ [item, item] }}",
                    "who": "{{ input.who }}",
                },
            ),
            t("after", depends_on=["each"], args={"count": "{{ length(nodes.each.output) }}"}),
        ],
        {"xs": ["a", "b", "c", "d", "e"], "who": "me"},
    )
    assert run["status"] == "succeeded", run["error"]
    assert nodes["each"]["output"] == [
        {"i": i, "doubled": [x, x], "who": "me"} for i, x in enumerate("abcde")
    ]
    assert nodes["after"]["output"] == {"count": 5}
    # Only indices crossed Step Functions: neither the node's execution nor its chunk's holds
    # an item value. The items fit in minutes: their chunk is an Express execution.
    from tests.e2e.test_express_chunks import chunk_executions

    [chunk] = chunk_executions(local_stack, "ItemsExpressStateMachine", run["id"])
    assert chunk["indices"] == [0, 1, 2, 3, 4]
    for machine, name in (
        ("NodeStateMachine", node_execution_name(run["id"], "each")),
        ("ItemsExpressStateMachine", chunk["name"]),
    ):
        sfn_history = local_stack.execution_history(machine, name)
        assert '"xs"' not in sfn_history and '"a"' not in sfn_history
        assert '\\"a\\"' not in sfn_history


def test_for_each_over_an_empty_list_succeeds_with_an_empty_list(api):
    run, nodes = run_workflow(
        api, [t("each", for_each="{{ input.xs }}", args={"x": "{{ item }}"})], {"xs": []}
    )
    assert run["status"] == "succeeded" and nodes["each"]["output"] == []


def test_an_item_that_fails_after_its_retries_fails_the_node(api):
    run, nodes = run_workflow(
        api,
        [
            t(
                "each",
                for_each="{{ input.xs }}",
                args={"v": "{{ abs(item) }}"},
                retry={"max_attempts": 2, "initial_interval": 0},
            )
        ],
        {"xs": [1, -2, "three", 4]},
    )
    assert run["status"] == "failed" and nodes["each"]["status"] == "failed"
    assert run["error"]["node"] == "each"
    assert run["error"]["message"].startswith("item 2: ")
    assert run["error"]["type"] == "ExpressionError"


def test_for_each_that_is_not_a_list_fails_clearly(api):
    run, nodes = run_workflow(api, [t("each", for_each="{{ input.xs }}")], {"xs": {"a": 1}})
    assert run["status"] == "failed"
    assert nodes["each"]["error"] == {
        "type": "ExpressionError",
        "message": "for_each gave dict, not a list",
    }


def test_an_infrastructure_error_is_retried_without_spending_an_attempt(api, monkeypatch):
    """A throttled DynamoDB call fails the Lambda step; ASL Retry runs it again, and the node
    still records a single attempt."""
    from botocore.exceptions import ClientError

    from stepwise.engine.node_state import NodeTransitions

    failures = {}

    def throttled_once(name):
        real = getattr(NodeTransitions, name)
        failures[name] = 1

        def throttled(self, *args, **kwargs):
            if failures[name]:
                failures[name] -= 1
                error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": ""}}
                raise ClientError(error, "UpdateItem")
            return real(self, *args, **kwargs)

        monkeypatch.setattr(NodeTransitions, name, throttled)

    throttled_once("start_attempt")  # a node with an execution (its Attempt step)
    throttled_once("settle_pending")  # a node run inline (the run's start step)
    nodes_spec = [
        t("x", args={"v": 1}, start_delay=1),
        t("y", args={"v": 2}),
    ]
    run, nodes = run_workflow(api, nodes_spec)
    assert failures == {"start_attempt": 0, "settle_pending": 0}
    assert run["status"] == "succeeded"
    for ref in "xy":
        assert [(a["attempt"], a["status"]) for a in nodes[ref]["attempts"]] == [(1, "succeeded")]


def test_an_error_type_listed_as_non_retryable_stops_at_once(api):
    run, nodes = run_workflow(
        api,
        [
            t(
                "poll",
                retry={
                    "max_attempts": 5,
                    "initial_interval": 0,
                    "retry_until": "{{ `false` }}",
                    "non_retryable_errors": ["RetryUntilNotMet"],
                },
            )
        ],
    )
    assert run["status"] == "failed"
    assert len(nodes["poll"]["attempts"]) == 1
    assert nodes["poll"]["error"]["type"] == "RetryUntilNotMet"


def test_nodes_with_executions_emit_events_with_their_lineage(api, other_org_api):
    """emit_event through real executions: a delayed node, a for_each node and an inline
    transform after them; the events are listed per node with their lineage."""
    nodes = [
        t("slow", start_delay=1, args={"v": "{{ input.v }}"}, emit_event=True),
        t("each", for_each="{{ input.items }}", args="{{ item }}", emit_event=True),
        t("quiet", depends_on=["each"], args={"n": 1}),
        t(
            "last",
            depends_on=["slow", "quiet"],
            args={"v": "{{ nodes.slow.output.v }}"},
            emit_event=True,
        ),
    ]
    created = api.post("/workflows", json={"name": "events", "nodes": nodes})
    workflow_id = created.json()["data"]["id"]
    run_id = api.post(
        "/runs", json={"workflow_id": workflow_id, "input": {"v": 7, "items": [1, 2]}}
    )
    run = wait_for_run(api, run_id.json()["data"]["id"])
    assert run["status"] == "succeeded"

    def events(ref):
        answer = api.get(f"/workflows/{workflow_id}/nodes/{ref}/events")
        assert answer.status_code == 200, answer.text
        return answer.json()

    [slow] = events("slow")["data"]
    [each] = events("each")["data"]
    [last] = events("last")["data"]
    assert slow["payload"] == {"v": 7} and each["payload"] == [1, 2] and last["payload"] == {"v": 7}
    assert sorted(last["previous_event_ids"]) == sorted([slow["id"], each["id"]])
    assert {slow["run_id"], each["run_id"], last["run_id"]} == {run["id"]}
    assert events("quiet")["meta"]["count"] == 0
    foreign = other_org_api.get(f"/v1/orgs/acme/workflows/{workflow_id}/nodes/slow/events")
    assert foreign.status_code == 404
