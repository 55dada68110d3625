"""Every execution's worst-case history stays under Step Functions' 25,000-event hard quota.

AWS fails an execution whose 25,000th event is not ExecutionSucceeded (States.Runtime, "The
execution reached the maximum number of history events (25000)."). The bound is computed by
walking the ASL files, from the limits the models allow (``retry.max_attempts`` up to 100,
``for_each`` up to 10,000 items) and the ``Retry`` blocks' ``MaxAttempts``:

- every state writes an entered and an exited event; a Map state also a started and an ended
  event, and each iteration a started and an ended event
- a Task writes, per try (its first and one per retry of every ``Retry`` block), Scheduled,
  Started and an outcome (3, a Lambda ARN) or Scheduled, Started, Submitted and an outcome (4, a
  service integration such as ``lambda:invoke.waitForTaskToken``)
- the execution writes a started and an ended event

A node loops back to its first state (``NextAttempt`` -> ``Attempt``) once per attempt after
the first and once for its start delay; an item once per attempt after the first. Within one
attempt a state is entered at most twice: ``Decide`` runs after ``Attempt`` and after the
step that ends a wait (``ActionSettled``, ``ChildSettled``, ``ReviewSettled``,
``ItemActionSettled``), which answers ``again`` or ``done`` only. The walk takes every path
under those rules, Catch paths included. A transform's item never takes ``ItemDecide``'s
``deliver`` branch (only an action node's items deliver), so its count is walked without it.
"""

import json
from functools import cache
from pathlib import Path

import pytest

from stepwise.engine import fan_out_plan
from stepwise.engine.for_each_steps import MAX_FOR_EACH_ITEMS
from stepwise.workflows.models import NodeSpec, RetryPolicy

STATEMACHINES = Path(__file__).resolve().parents[3] / "statemachines"
HISTORY_LIMIT = 25_000
EXECUTION_EVENTS = 2  # ExecutionStarted, then ExecutionSucceeded/Failed/TimedOut/Aborted
ITERATION_EVENTS = 2  # MapIterationStarted, MapIterationSucceeded/Failed/Aborted
MAP_EVENTS = 4  # MapStateEntered, MapStateStarted, MapStateSucceeded/Failed, MapStateExited

NEVER = float("-inf")


def max_attempts_allowed() -> int:
    [limit] = [m.le for m in RetryPolicy.model_fields["max_attempts"].metadata if hasattr(m, "le")]
    return limit


@cache
def machine(name: str) -> dict:
    return json.loads((STATEMACHINES / f"{name}.asl.json").read_text())


def task_events(state: dict) -> int:
    tries = 1 + sum(r.get("MaxAttempts", 3) for r in state.get("Retry", []))
    integration = state["Resource"].startswith("arn:${Partition}:states:::")
    return 2 + tries * (4 if integration else 3)


def successors(state: dict) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


def ends(state: dict) -> bool:
    return state.get("End", False) or state["Type"] in ("Succeed", "Fail")


def segments(states: dict, start: str, cost) -> tuple[float, float]:
    """The most events of one pass from ``start`` back to it (an attempt), and of one pass from
    ``start`` to the end: every path, each state at most twice per pass."""
    best = {"cycle": NEVER, "tail": NEVER}
    visits = dict.fromkeys(states, 0)

    def walk(name: str, total: int) -> None:
        total += cost(name, states[name])
        if ends(states[name]):
            best["tail"] = max(best["tail"], total)
        for following in successors(states[name]):
            if following == start:
                best["cycle"] = max(best["cycle"], total)
            elif visits[following] < 2:
                visits[following] += 1
                walk(following, total)
                visits[following] -= 1

    visits[start] = 1
    walk(start, 0)
    return best["cycle"], best["tail"]


def without_delivery(states: dict) -> dict:
    """The item states a transform's item can take: ItemDecide without its ``deliver`` branch."""
    pruned = dict(states)
    decide = dict(pruned["ItemDecide"])
    decide["Choices"] = [c for c in decide["Choices"] if c.get("StringEquals") != "deliver"]
    pruned["ItemDecide"] = decide
    return pruned


def worst_case(
    states: dict, start: str, loops: int, items: int, item_attempts: int, delivers: bool = True
) -> float:
    """The most events a pass through ``states`` writes with ``loops`` passes back to the start
    (Map states run ``items`` iterations, each with ``item_attempts`` attempts)."""

    def cost(name: str, state: dict) -> int:
        if state["Type"] == "Task":
            return task_events(state)
        if state["Type"] == "Map":
            processor = state["ItemProcessor"]
            inner = processor["States"] if delivers else without_delivery(processor["States"])
            iteration = worst_case(inner, processor["StartAt"], item_attempts - 1, 0, 1)
            return MAP_EVENTS + items * (ITERATION_EVENTS + iteration)
        if state["Type"] == "Parallel":
            raise AssertionError(f"{name}: Parallel states are not modelled here")
        return 2

    cycle, tail = segments(states, start, cost)
    return max(cycle, 0) * loops + tail


def execution_worst_case(name: str, max_attempts: int, items: int, delivers: bool = True) -> float:
    definition = machine(name)
    # A node loops once per retry and once for its start delay; an item once per retry.
    return EXECUTION_EVENTS + worst_case(
        definition["States"], definition["StartAt"], max_attempts, items, max_attempts, delivers
    )


def item_segments(delivers: bool) -> tuple[float, float]:
    processor = machine("items")["States"]["Items"]["ItemProcessor"]
    states = processor["States"] if delivers else without_delivery(processor["States"])
    return segments(
        states,
        processor["StartAt"],
        lambda _, s: task_events(s) if s["Type"] == "Task" else 2,
    )


def test_the_model_limits_are_the_ones_this_bound_assumes():
    assert max_attempts_allowed() == 100
    assert MAX_FOR_EACH_ITEMS == 10_000
    assert NodeSpec.model_fields["max_concurrency"].default == 10


def test_the_node_machine_stays_under_the_limit_with_the_worst_retry_policy():
    worst = execution_worst_case("node", max_attempts_allowed(), items=0)
    assert worst < 0.8 * HISTORY_LIMIT, worst


def test_the_node_machine_no_longer_runs_items_itself():
    """Its history does not grow with the number of items: no Map state left in it."""
    states = machine("node")["States"]
    assert all(s["Type"] != "Map" for s in states.values())
    few = execution_worst_case("node", 100, items=1)
    assert execution_worst_case("node", 100, items=MAX_FOR_EACH_ITEMS) == few


@pytest.mark.parametrize("delivers", [False, True], ids=["transform", "action"])
def test_the_engine_s_event_counts_cover_the_items_machine(delivers):
    """fan_out_plan sizes chunks from these counts: each must be at least the ASL's, for a
    transform's items and for an action node's (each attempt a delivery)."""
    cycle, tail = item_segments(delivers)
    retry_events = (
        fan_out_plan.DELIVERY_ITEM_RETRY_EVENTS if delivers else fan_out_plan.ITEM_RETRY_EVENTS
    )
    events = fan_out_plan.DELIVERY_ITEM_EVENTS if delivers else fan_out_plan.ITEM_EVENTS
    assert cycle <= retry_events
    assert ITERATION_EVENTS + tail <= events
    assert execution_worst_case("items", 1, items=0) <= fan_out_plan.CHUNK_EVENTS
    for attempts in (1, 2, 100):
        one_item = execution_worst_case("items", attempts, items=1, delivers=delivers)
        assert one_item <= fan_out_plan.CHUNK_EVENTS + fan_out_plan.item_events(attempts, delivers)


def test_an_action_item_costs_more_history_than_a_transform_item():
    """The delivery path is walked: without it the action counts would size chunks too big."""
    assert item_segments(True)[0] > item_segments(False)[0]
    assert fan_out_plan.chunk_size(1, delivers=True) < fan_out_plan.chunk_size(1)


@pytest.mark.parametrize("delivers", [False, True], ids=["transform", "action"])
@pytest.mark.parametrize("max_attempts", range(1, 101))
def test_every_chunk_stays_under_the_budget_whatever_the_retry_policy(max_attempts, delivers):
    for items in (1, 7, MAX_FOR_EACH_ITEMS):
        size = fan_out_plan.plan(items, max_attempts, 40, delivers=delivers).chunk_size
        worst = execution_worst_case("items", max_attempts, items=size, delivers=delivers)
        assert worst <= fan_out_plan.HISTORY_BUDGET < HISTORY_LIMIT, (items, size, worst)


def test_an_inline_map_over_every_item_would_pass_the_limit():
    """What the chunks are for: one execution over all 10,000 items, even without retries,
    would fail (as a single inline Map over 2,270 or more items did on AWS)."""
    assert execution_worst_case("items", 1, items=MAX_FOR_EACH_ITEMS) > HISTORY_LIMIT
