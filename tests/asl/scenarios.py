"""The workflows whose executions make asl-check's paths, and the path the engine assumes for each
execution (docs/engine.md): run on the moto stack with the engine's real code, then replayed."""

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from botocore.exceptions import ClientError

from stepwise.engine.node_state import NodeTransitions
from stepwise_local.provision import local_client
from stepwise_local.receiver import Answer, Callback, Receiver
from stepwise_local.stack import DEFAULT_API_KEY, DEFAULT_ORG, LocalStack
from tests.asl.definitions import definitions
from tests.asl.recording import Recorded, execution_output, history, outcomes

ONE_PASS = ["Attempt", "Decide", "Done"]
TWO_PASSES = ["Attempt", "Decide", "Backoff", "NextAttempt", "Attempt", "Decide", "Done"]
ITEM = ["ItemAttempt", "ItemDecide", "ItemDone"]
FAN_OUT = ["Attempt", "Decide", "FanOut", "CollectItems", "Done"]
# An attempt that may take 5 minutes: the items run in Standard chunks (engine/fan_out_plan.py),
# and a node whose retries wait for it runs on NodeStateMachine (workflows/machines.py).
STANDARD_ITEMS = {"timeout": 300}
STANDARD_NODE = {"timeout": 300}
SETTLED = {"succeeded", "failed", "cancelled", "timed_out"}
SIGNALING = {"enabled": True, "default": "ack"}


@dataclass
class Scenario:
    name: str
    nodes: list[dict[str, Any]]
    input: Any
    run_status: str
    # label -> the states the engine expects that execution to enter, in order
    paths: dict[str, list[str]]
    # NodeTransitions method -> how many calls fail with a throttle before it works
    throttle: dict[str, int] = field(default_factory=dict)
    # a receiver answer for the action node of this scenario (a path of its own)
    answer: Answer | None = None
    sla_ms: int = 5000
    # the Map's iterations run at once, so only the count of each state is comparable
    unordered: bool = False
    # the action's destination has signaling: None = only when the answer is an ack (202);
    # "saved" = before the workflow is saved, "later" = after (a for_each node with signaling
    # runs its items in Standard chunks; a node without for_each is on Express either way)
    signaling: str | None = None


def _t(ref: str, **fields: Any) -> dict[str, Any]:
    return {"ref": ref, "kind": "transform", **fields}


def _action(ref: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"ref": ref, "kind": "action", "action": name, **fields}


CHILD = [_t("square", args={"pair": "{{ [input.x, input.x] }}"})]

SCENARIOS = [
    # Transforms that never wait run inline: no execution at all (a run has none of its own; it
    # starts and finishes through RunQueue messages).
    Scenario(
        "diamond",
        [
            _t("a", args={"n": "{{ input.n }}"}),
            _t("b", depends_on=["a"], args={"v": "{{ nodes.a.output.n }}"}),
            _t("c", depends_on=["a"], args={"v": "{{ nodes.a.output.n }}"}),
            _t("d", depends_on=["b", "c"], args={"b": "{{ nodes.b.output }}"}),
        ],
        {"n": 2},
        "succeeded",
        {},
    ),
    # A start delay: the first Attempt prepares and waits, the second succeeds.
    Scenario("success", [_t("x", start_delay=1)], None, "succeeded", {"node x": TWO_PASSES}),
    # retry_until false on attempt 1, true on attempt 2; an attempt may take 5 minutes, so the
    # node's schedule does not fit in an Express execution: NodeStateMachine.
    Scenario(
        "retry_then_success",
        [
            _t(
                "x",
                retry={
                    **STANDARD_NODE,
                    "max_attempts": 3,
                    "initial_interval": 1,
                    "retry_until": "{{ attempt >= `2` }}",
                },
            )
        ],
        None,
        "succeeded",
        {"node x": TWO_PASSES},
    ),
    # The same retry whose schedule fits in 4 minutes: NodeExpressStateMachine, same states.
    Scenario(
        "retry_express",
        [
            _t(
                "x",
                retry={
                    "max_attempts": 3,
                    "initial_interval": 1,
                    "retry_until": "{{ attempt >= `2` }}",
                },
            )
        ],
        None,
        "succeeded",
        {"node express x": TWO_PASSES},
    ),
    # retry_until never true: two attempts, then the node (and the run) fails (on Express).
    Scenario(
        "retry_exhausted",
        [_t("x", retry={"max_attempts": 2, "initial_interval": 1, "retry_until": "{{ `false` }}"})],
        None,
        "failed",
        {"node express x": TWO_PASSES},
    ),
    # The engine's step itself fails once (a throttled DynamoDB write): ASL Retry runs it again.
    Scenario(
        "step_retried",
        [_t("x", start_delay=1)],
        None,
        "succeeded",
        {"node x": TWO_PASSES},
        throttle={"start_attempt": 1},
    ),
    # The step keeps failing past ASL Retry's 3 retries: Catch -> RecordCrash fails the node.
    Scenario(
        "step_crashed",
        [_t("x", start_delay=1)],
        None,
        "failed",
        {
            "node x": ["Attempt", "Decide", "Backoff", "NextAttempt", "Attempt", "RecordCrash"],
        },
        throttle={"start_attempt": 4},
    ),
    # for_each over three items, one at a time so the order is the engine's: the node's FanOut
    # waits (task token) while the items run in a chunk execution of the items machine. Their
    # retry.timeout (an attempt may take 5 minutes) keeps them out of Express chunks: these
    # scenarios measure the Standard chunk's history.
    Scenario(
        "for_each",
        [
            _t(
                "each",
                for_each="{{ input.xs }}",
                max_concurrency=1,
                retry=STANDARD_ITEMS,
                args={"x": "{{ item }}"},
            )
        ],
        {"xs": [1, 2, 3]},
        "succeeded",
        {
            "node each": FAN_OUT,
            "items each chunk 0": ["Items", *ITEM * 3, "ChunkDone"],
        },
    ),
    # 25 items ten at a time: the history's size per item (the 25,000-event limit).
    Scenario(
        "for_each_25",
        [_t("each", for_each="{{ input.xs }}", retry=STANDARD_ITEMS, args={"x": "{{ item }}"})],
        {"xs": list(range(25))},
        "succeeded",
        {
            "node each": FAN_OUT,
            "items each chunk 0": ["Items", *ITEM * 25, "ChunkDone"],
        },
        unordered=True,
    ),
    # Each of three items fails retry_until once: the history's cost of an item's retry.
    Scenario(
        "for_each_retried",
        [
            _t(
                "each",
                for_each="{{ input.xs }}",
                max_concurrency=3,
                args={"x": "{{ item }}"},
                retry={
                    **STANDARD_ITEMS,
                    "max_attempts": 2,
                    "initial_interval": 1,
                    "retry_until": "{{ attempt >= `2` }}",
                },
            )
        ],
        {"xs": [1, 2, 3]},
        "succeeded",
        {
            "node each": FAN_OUT,
            "items each chunk 0": [
                "Items",
                *["ItemAttempt", "ItemDecide", "ItemBackoff", "ItemNextAttempt", *ITEM] * 3,
                "ChunkDone",
            ],
        },
        unordered=True,
    ),
    # Items whose worst case fits in 4 minutes run in an Express chunk: the same Map, then
    # ChunkDone (LocalStack replays the definition as a Standard machine: the paths match).
    Scenario(
        "for_each_express",
        [_t("each", for_each="{{ input.xs }}", max_concurrency=1, args={"x": "{{ item }}"})],
        {"xs": [1, 2, 3]},
        "succeeded",
        {
            "node each": FAN_OUT,
            "items express each chunk 0": ["Items", *ITEM * 3, "ChunkDone"],
        },
    ),
    # A webhook answered at once on Express: the Attempt step POSTs and settles, no SQS message
    # and no other invocation.
    Scenario(
        "deliver",
        [_action("call", "asl-deliver")],
        None,
        "succeeded",
        {"node express call": ONE_PASS},
        answer=Answer(200, {"ok": True}),
    ),
    # A webhook answered at once by a destination with signaling: on Express like any other
    # (the answer's signal says it is done), no Standard execution.
    Scenario(
        "deliver_signaling",
        [_action("call", "asl-deliver-signaling")],
        None,
        "succeeded",
        {"node express call": ONE_PASS},
        answer=Answer(200, {"signal": "success", "result": {"ok": True}}),
        signaling="saved",
    ),
    # The destination acknowledges and signals success 2 s after its answer: the Express
    # execution ends after the ack, the attempt awaits its callback with no execution
    # (engine/callbacks.py) and the signals function settles it. Only the one Express execution.
    Scenario(
        "ack_then_callback",
        [_action("call", "asl-ack-callback")],
        None,
        "succeeded",
        {"node express call": ONE_PASS},
        answer=Answer(
            202,
            callbacks=(Callback({"signal": "success", "result": {"ok": True}}, after=2.0),),
        ),
        signaling="saved",
    ),
    # Acknowledged, never called back: the callback timer (RunQueue) times the attempt out after
    # its 1 s; no execution waits meanwhile.
    Scenario(
        "ack_timeout",
        [_action("call", "asl-timeout", retry={"timeout": 1})],
        None,
        "failed",
        {"node express call": ONE_PASS},
        answer=Answer(202),
        signaling="saved",
    ),
    # for_each over an action node whose destination has no signaling: an Express chunk, each
    # item's attempt delivered within its ItemAttempt step, one item at a time so the order is
    # the engine's.
    Scenario(
        "for_each_deliver",
        [
            _action(
                "each",
                "asl-items",
                for_each="{{ input.xs }}",
                max_concurrency=1,
                args={"x": "{{ item }}"},
            )
        ],
        {"xs": [1, 2]},
        "succeeded",
        {
            "node each": FAN_OUT,
            "items express each chunk 0": ["Items", *ITEM * 2, "ChunkDone"],
        },
        answer=Answer(200, {"ok": True}),
    ),
    # The same over a destination with signaling (a Standard chunk): ItemDeliver's SQS message
    # resumed by SendTaskSuccess, the answer's signal saying the item is done.
    Scenario(
        "for_each_deliver_standard",
        [
            _action(
                "each",
                "asl-items-standard",
                for_each="{{ input.xs }}",
                max_concurrency=1,
                args={"x": "{{ item }}"},
            )
        ],
        {"xs": [1, 2]},
        "succeeded",
        {
            "node each": FAN_OUT,
            "items each chunk 0": [
                "Items",
                *["ItemAttempt", "ItemDecide", "ItemDeliver", "ItemActionSettled", *ITEM[1:]] * 2,
                "ChunkDone",
            ],
        },
        answer=Answer(200, {"signal": "success", "result": {"ok": True}}),
        signaling="saved",
    ),
    # An action item acknowledged and never called back: ItemDeliver's 1 s heartbeat runs out.
    Scenario(
        "for_each_deliver_timeout",
        [
            _action(
                "each",
                "asl-items-timeout",
                for_each="{{ input.xs }}",
                retry={"timeout": 1},
                args={"x": "{{ item }}"},
            )
        ],
        {"xs": [1]},
        "failed",
        {
            "node each": FAN_OUT,
            "items each chunk 0": [
                "Items",
                "ItemAttempt",
                "ItemDecide",
                "ItemDeliver",
                "ItemDeliveryTimedOut",
                "ItemActionSettled",
                "ItemDecide",
                "ItemDone",
                "ChunkDone",
            ],
        },
        answer=Answer(202),
    ),
    # A child run: AwaitChild's token is resumed by the child's finalize_run.
    Scenario(
        "child",
        [
            _t("prep", args={"x": "{{ input.x }}"}),
            {
                "ref": "sub",
                "kind": "workflow",
                "depends_on": ["prep"],
                "args": {"workflow_id": "{child}", "input": {"x": "{{ nodes.prep.output.x }}"}},
            },
        ],
        {"x": 3},
        "succeeded",
        {
            "node sub": ["Attempt", "Decide", "AwaitChild", "ChildSettled", "Decide", "Done"],
        },
    ),
]


@contextlib.contextmanager
def _throttled(counts: dict[str, int]) -> Iterator[None]:
    """The named NodeTransitions methods fail ``count`` times the way DynamoDB throttles."""
    saved = {name: getattr(NodeTransitions, name) for name in counts}
    left = dict(counts)

    def failing(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            if left[name]:
                left[name] -= 1
                error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": ""}}
                raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]
            return real(self, *args, **kwargs)

        return call

    for name, real in saved.items():
        setattr(NodeTransitions, name, failing(name, real))
    try:
        yield
    finally:
        for name, real in saved.items():
            setattr(NodeTransitions, name, real)
    assert not any(left.values()), f"throttles never reached: {left}"


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _wait_run(api: httpx.Client, run_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/runs/{run_id}").json()["data"]
        if run["status"] in SETTLED:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}"
        time.sleep(0.05)


def _prepare(
    api: httpx.Client, receiver: Receiver, scenario: Scenario
) -> tuple[list[dict[str, Any]], list[str]]:
    """The scenario's nodes, with the child workflows and destinations they name made; and the
    destinations to give signaling once the workflow is saved."""
    nodes = []
    later: list[str] = []
    for node in scenario.nodes:
        node = dict(node)
        if node["kind"] == "workflow":
            child = _post(api, "/workflows", {"name": "child", "nodes": CHILD})
            node["args"] = {**node["args"], "workflow_id": child["id"]}
        if node["kind"] == "action":
            assert scenario.answer is not None
            url = receiver.answer(f"/{scenario.name}", scenario.answer)
            destination = {
                "label": scenario.name,
                "url": url,
                "response_time_sla_ms": scenario.sla_ms,
            }
            signaling = scenario.signaling or ("saved" if scenario.answer.status == 202 else None)
            if signaling == "saved":
                destination["signaling"] = SIGNALING
            dest = _post(api, "/destinations", destination)
            if signaling == "later":
                later.append(dest["id"])
            definition = {"name": node["action"], "destinations": [{"destination_id": dest["id"]}]}
            _post(api, "/actions/definitions", definition)
        nodes.append(node)
    return nodes, later


def _signal_later(api: httpx.Client, destinations: list[str]) -> None:
    """Signaling given after the workflow was saved: its nodes stay on Express all the same."""
    for dest in destinations:
        response = api.patch(f"/destinations/{dest}", json={"signaling": SIGNALING})
        assert response.status_code == 200, response.text


def _label(machine: str, data: dict[str, Any], own: bool) -> str:
    """How a scenario's expected paths name an execution: "node <ref>", "node express <ref>",
    "items <ref> chunk <n>"... (a run has no execution of its own)."""
    kind = {
        "NodeStateMachine": "node",
        "NodeExpressStateMachine": "node express",
        "ItemsStateMachine": "items",
        "ItemsExpressStateMachine": "items express",
    }.get(machine, machine)
    name = f"{kind} {data['node_ref']}" if "node_ref" in data else kind
    if "chunk" in data:
        name += f" chunk {data['chunk']}"
    return name if own else f"{name} (child)"


def record(scenarios: list[Scenario]) -> dict[str, list[Recorded]]:
    """Runs every scenario on the moto stack and reads back each execution it made."""
    recorded: dict[str, list[Recorded]] = {}
    # Every state machine of the template: an execution of one no scenario expects fails the check.
    machines = [d.logical_id for d in definitions()]
    # The functions print their EMF metric lines to stdout, as Lambda wants: not here.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        LocalStack(parameters={"LogLevel": "WARNING"}) as stack,
        Receiver() as receiver,
    ):
        base = stack.serve_in_background()
        headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        sfn = local_client("stepfunctions")
        with httpx.Client(
            base_url=f"{base}/v1/orgs/{DEFAULT_ORG}", headers=headers, timeout=30
        ) as api:
            for scenario in scenarios:
                seen = {e["executionArn"] for m in machines for e in stack.executions(m)}
                nodes, later = _prepare(api, receiver, scenario)
                workflow = _post(api, "/workflows", {"name": scenario.name, "nodes": nodes})
                _signal_later(api, later)
                with _throttled(scenario.throttle):
                    started = _post(
                        api, "/runs", {"workflow_id": workflow["id"], "input": scenario.input}
                    )
                    run = _wait_run(api, started["id"])
                    assert stack.wait_idle(timeout=60), stack.running_executions()
                assert run["status"] == scenario.run_status, (scenario.name, run)
                executions = []
                for machine in machines:
                    for execution in stack.executions(machine):
                        if execution["executionArn"] in seen:
                            continue
                        arn = execution["executionArn"]
                        described = sfn.describe_execution(executionArn=arn)
                        events = history(sfn, arn)
                        data = json.loads(described["input"])
                        label = _label(machine, data, own=data.get("run_id") == run["id"])
                        executions.append(
                            Recorded(
                                label,
                                machine,
                                execution["name"],
                                data,
                                described["status"],
                                events,
                                outcomes(events),
                                (described["stopDate"] - described["startDate"]).total_seconds(),
                                output=execution_output(events),
                            )
                        )
                recorded[scenario.name] = executions
    return recorded
