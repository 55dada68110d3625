"""Property: over random DAGs with random outcomes, driven in random orders with random replays,
every node ends in exactly one terminal state, no node starts before its join allows, the run's
status follows from its nodes', and replaying a completed step starts nothing twice."""

import json
import random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from stepwise import components
from stepwise.core.statuses import NODE_TERMINAL, RUN_TERMINAL
from stepwise.engine.joins import Decision, Edge, edge_outcome, join_decision
from stepwise.infra import executions
from stepwise_local.stack import LocalStack
from tests.conftest import QUIET
from tests.helpers import deliver, examples, http_event

ORG = "acme"
FAILS = {"boom": "{{ abs('not a number') }}"}  # a deterministic, non-retryable failure


@pytest.fixture(scope="module")
def module_stack():
    with LocalStack(execute_state_machines=False, parameters=QUIET) as stack:
        yield stack


@st.composite
def workflows(draw):
    count = draw(st.integers(min_value=1, max_value=8))
    nodes = []
    for index in range(count):
        ref = f"n{index}"
        parents = (
            draw(st.lists(st.integers(0, index - 1), unique=True, max_size=3)) if index else []
        )
        depends_on = [
            f"n{p}" + draw(st.sampled_from(["", ".success", ".error"])) for p in sorted(parents)
        ]
        node = {
            "ref": ref,
            "kind": "transform",
            "depends_on": depends_on,
            "join_strategy": draw(st.sampled_from(["all", "any"])),
            "args": FAILS if draw(st.booleans()) else {"ok": index},
        }
        if draw(st.integers(0, 5)) == 0:
            node["run_if"] = "{{ `false` }}"
        nodes.append(node)
    return {"name": "random", "nodes": nodes}


def reference(workflow):
    """The statuses a run must end with when no failure is left unhandled (pure simulation)."""
    specs = {n["ref"]: n for n in workflow["nodes"]}
    handled = {
        Edge.parse(d).parent
        for n in workflow["nodes"]
        for d in n["depends_on"]
        if d.endswith(".error")
    }
    status = {}
    for node in workflow["nodes"]:  # parents always come earlier
        edges = [Edge.parse(d) for d in node["depends_on"]]
        if edges:
            outcomes = {e.key: edge_outcome(e.kind, status[e.parent]) for e in edges}
            decision = join_decision(
                node["join_strategy"],
                set(outcomes),
                {k for k, o in outcomes.items() if o == "satisfied"},
                {k for k, o in outcomes.items() if o == "failed"},
                {k for k, o in outcomes.items() if o == "skipped"},
            )
            if decision != Decision.RUN:
                status[node["ref"]] = "skipped"
                continue
        if "run_if" in node:
            status[node["ref"]] = "skipped"
        else:
            status[node["ref"]] = "failed" if specs[node["ref"]]["args"] == FAILS else "succeeded"
    unhandled = any(s == "failed" and r not in handled for r, s in status.items())
    return status, unhandled


@settings(
    max_examples=examples(ci=20, full=40),
    deadline=None,
    # Each example is a real run on moto; shrinking a failure can take minutes, so it is capped.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    workflow=workflows(), seed=st.integers(0, 2**32 - 1), inline_limit=st.sampled_from([0, 2, 100])
)
def test_random_runs_keep_the_engine_invariants(module_stack, workflow, seed, inline_limit):
    """Nodes run inline (100), as executions (0), or both as the inline budget runs out (2)."""
    components.engine().advance.inline_limit = inline_limit
    with pytest.MonkeyPatch.context() as patch:
        check_one_run(module_stack, patch, workflow, random.Random(seed))


def check_one_run(module_stack, monkeypatch, workflow, rng):
    started: list[str] = []
    express_started: list[str] = []
    real_start = executions.start_node
    real_express_start = executions.start_express_node

    def start_express_node(arn, org_id, run_id, ref, generation=0, attempt=1):
        check_join(org_id, run_id, ref)
        started.append(ref)
        express_started.append(ref)
        real_express_start(arn, org_id, run_id, ref, generation, attempt)

    def start_node(arn, org_id, run_id, ref, generation=0):
        check_join(org_id, run_id, ref)
        started.append(ref)
        real_start(arn, org_id, run_id, ref, generation)

    def check_join(org_id, run_id, ref):
        # No node starts before its join allows: check against the parents' recorded outcomes.
        store = components.store()
        workflow_nodes = {n["ref"]: n for n in workflow["nodes"]}
        edges = [Edge.parse(d) for d in workflow_nodes[ref]["depends_on"]]
        if edges:
            parents = {
                n.ref: n.status
                for n in store.runs.get_nodes(org_id, run_id, [e.parent for e in edges])
            }
            outcomes = {
                e.key: edge_outcome(e.kind, parents[e.parent])
                for e in edges
                if parents[e.parent] in NODE_TERMINAL
            }
            decision = join_decision(
                workflow_nodes[ref]["join_strategy"],
                {e.key for e in edges},
                {k for k, o in outcomes.items() if o == "satisfied"},
                {k for k, o in outcomes.items() if o == "failed"},
                {k for k, o in outcomes.items() if o == "skipped"},
            )
            assert decision == Decision.RUN, (ref, parents)

    monkeypatch.setattr(executions, "start_node", start_node)
    monkeypatch.setattr(executions, "start_express_node", start_express_node)

    def api(method, path, body=None):
        return json.loads(
            module_stack.invoke("ApiFunction", http_event(method, path, body))["body"]
        )

    def step(name, **fields):
        return module_stack.invoke(
            "EngineFunction", {"step": name, "org_id": ORG, "run_id": run_id, **fields}
        )

    nodes = workflow["nodes"]
    workflow_id = api("POST", f"/v1/orgs/{ORG}/workflows", workflow)["data"]["id"]
    run_id = api("POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow_id})["data"]["id"]

    def executions_of_run() -> list[str]:
        """The refs of the run's nodes that have an execution (names hash run and ref)."""
        ref_of = {executions.node_execution_name(run_id, n["ref"]): n["ref"] for n in nodes}
        names = [e["name"] for e in module_stack.node_executions()]
        return sorted(ref_of[name] for name in names if name in ref_of)

    deliver(module_stack, "start", run_id)
    done: list[str] = []
    while pending := [ref for ref in executions_of_run() if ref not in done]:
        ref = rng.choice(pending)
        step("attempt", node_ref=ref, attempt=1, prepared=False)
        done.append(ref)
        if rng.random() < 0.5:  # replay a completed step: no execution may be added
            before = executions_of_run()
            step("attempt", node_ref=rng.choice(done), attempt=1, prepared=False)
            assert executions_of_run() == before
    # Re-sent starts (a node still scheduled) reuse the execution's name: never a second one;
    # an Express start (names not deduplicated) is never sent twice.
    assert sorted(set(started)) == executions_of_run()
    assert len(express_started) == len(set(express_started)), express_started
    # The step that settled the last node finished the run; a late finalize changes nothing.
    finished = components.store().runs.get_run(ORG, run_id)
    assert finished.status in RUN_TERMINAL, "the run was never finished"
    reason = finished.settle_reason
    deliver(module_stack, "finalize", run_id)
    assert components.store().runs.get_run(ORG, run_id) == finished

    run = api("GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    statuses = {n["ref"]: n["status"] for n in run["nodes"]}
    assert all(s in NODE_TERMINAL for s in statuses.values()), statuses
    expected, unhandled = reference(workflow)
    if unhandled:
        assert run["status"] == "failed" and reason == "node_failed"
        failed_node = run["error"]["node"]
        assert statuses[failed_node] == "failed" and expected[failed_node] == "failed"
        # Whatever did finish, finished as the reference says; the rest was cancelled.
        assert all(s == expected[r] or s == "cancelled" for r, s in statuses.items()), statuses
    else:
        assert run["status"] == "succeeded", run["error"]
        assert statuses == expected


# A failure that a redrive can heal: the node fails while its input key is not a number.
def heals(ref: str) -> dict:
    return {"v": "{{ abs(input." + ref + ") }}"}


@st.composite
def healable_workflows(draw):
    """Random DAGs whose failing nodes fail on the first input only (``heals``)."""
    workflow = draw(workflows())
    failing = []
    for node in workflow["nodes"]:
        if node["args"] == FAILS:
            node["args"] = heals(node["ref"])
            failing.append(node["ref"])
    return workflow, failing


@settings(
    max_examples=examples(ci=12, full=25),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn=healable_workflows(),
    seed=st.integers(0, 2**32 - 1),
    inline_limit=st.sampled_from([0, 2, 100]),
)
def test_redriving_random_failures_until_success_never_runs_a_succeeded_node_twice(
    module_stack, drawn, seed, inline_limit
):
    """Random failures, then redrives (each healing some of them) until the run succeeds: no
    node that succeeded is started again, attempts number on, and the run ends succeeded."""
    components.engine().advance.inline_limit = inline_limit
    workflow, failing = drawn
    with pytest.MonkeyPatch.context() as patch:
        check_redrives(module_stack, patch, workflow, failing, random.Random(seed))


def check_redrives(module_stack, monkeypatch, workflow, failing, rng):
    succeeded_before: set[str] = set()  # nodes that had succeeded when the redrive began
    real_start = executions.start_node

    def start_node(arn, org_id, run_id, ref, generation=0):
        assert ref not in succeeded_before, f"{ref} succeeded already, and starts again"
        real_start(arn, org_id, run_id, ref, generation)

    monkeypatch.setattr(executions, "start_node", start_node)

    def api(method, path, body=None):
        answer = module_stack.invoke("ApiFunction", http_event(method, path, body))
        return answer["statusCode"], json.loads(answer["body"])

    def step(name, **fields):
        return module_stack.invoke(
            "EngineFunction", {"step": name, "org_id": ORG, "run_id": run_id, **fields}
        )

    nodes = workflow["nodes"]
    run_input = {ref: "not a number" for ref in failing}
    _, created = api("POST", f"/v1/orgs/{ORG}/workflows", workflow)
    _, started = api(
        "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": created["data"]["id"], "input": run_input}
    )
    run_id = started["data"]["id"]

    def drive(generation: int) -> dict:
        names = {
            executions.node_execution_name(run_id, n["ref"], generation): n["ref"] for n in nodes
        }
        deliver(module_stack, "start", run_id)
        done: list[str] = []
        while True:
            listed = [e["name"] for e in module_stack.node_executions()]
            pending = sorted(names[n] for n in listed if n in names and names[n] not in done)
            if not pending:
                break
            ref = rng.choice(pending)
            step("attempt", node_ref=ref, attempt=1, prepared=False)
            done.append(ref)
            if rng.random() < 0.3:  # a replayed step changes nothing
                step("attempt", node_ref=rng.choice(done), attempt=1, prepared=False)
        deliver(module_stack, "finalize", run_id)  # a late finalize changes nothing
        return api("GET", f"/v1/orgs/{ORG}/runs/{run_id}")[1]["data"]

    run = drive(0)
    for generation in range(1, len(failing) + 2):
        if run["status"] == "succeeded":
            break
        assert run["status"] == "failed", run
        statuses = {n["ref"]: n["status"] for n in run["nodes"]}
        succeeded_before |= {r for r, s in statuses.items() if s == "succeeded"}
        # Heal the failure that failed the run, and some others.
        heal = {run["error"]["node"]} | {r for r in failing if rng.random() < 0.5}
        run_input = {**run_input, **{r: 1 for r in heal}}
        status, answer = api("POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {"input": run_input})
        assert status == 202, answer
        assert answer["data"]["redrive_count"] == generation
        run = drive(generation)
    assert run["status"] == "succeeded", run["error"]
    for node in run["nodes"]:
        assert node["status"] in NODE_TERMINAL
        numbers = [a["attempt"] for a in node["attempts"]]
        assert numbers == list(range(1, node["attempt"] + 1)), node  # numbered on, no gaps
        wins = [a for a in node["attempts"] if a["status"] == "succeeded"]
        assert len(wins) <= 1, node  # a node succeeds once, whatever the redrives
        if node["ref"] in succeeded_before:
            assert node["status"] == "succeeded" and len(wins) == 1
