"""Which machine runs each node (chosen when a version is saved), and when an Express
execution hands the rest of a node to Standard."""

from datetime import timedelta

import pytest

from stepwise.core import clock
from stepwise.engine.express import fitted, hand_off
from stepwise.workflows.machines import (
    SYNC_DELIVERY_SECONDS,
    DestinationPlan,
    express_nodes,
    must_hand_off,
)
from stepwise.workflows.models import NodeSpec

PLAIN = DestinationPlan(signaling=False, sla_seconds=10)
SIGNALLING = DestinationPlan(signaling=True, sla_seconds=10)


def chosen(*nodes: dict, plans: dict | None = None) -> list[str]:
    plans = {"ok": PLAIN, "cb": SIGNALLING, **(plans or {})}
    return express_nodes([NodeSpec.model_validate(n) for n in nodes], plans.get)


def action(ref: str, name: str = "ok", **extra) -> dict:
    return {"ref": ref, "kind": "action", "action": name, **extra}


def test_a_webhook_that_waits_for_nothing_and_fits_runs_on_express():
    assert chosen(action("call"), {"ref": "t", "kind": "transform"}) == ["call", "t"]


@pytest.mark.parametrize(
    "node",
    [
        {"ref": "n", "kind": "approval"},
        {"ref": "n", "kind": "workflow", "args": {"workflow_id": "wf_1"}},
        {"ref": "n", "kind": "transform", "for_each": "{{ input.items }}"},
        {"ref": "n", "kind": "wait", "start_delay": 30},
        {"ref": "n", "kind": "transform", "wait_until": "2030-01-01T00:00:00+00:00"},
        action("n", "unknown"),  # not resolvable when saved: Standard serves every case
    ],
    ids=["approval", "child", "for_each", "delay", "wait_until", "unresolved"],
)
def test_nodes_that_wait_or_cannot_be_planned_stay_on_standard(node):
    assert chosen(node) == []


def test_a_webhook_answered_by_callback_is_planned_as_any_other_webhook():
    """Its ack's callback is awaited with no execution (engine/callbacks.py): only the
    synchronous delivery and the backoffs run in the Express execution, so signaling changes
    nothing in the choice; the SLA and the retry schedule still do."""
    assert chosen(action("n", "cb")) == ["n"]
    fits = {"max_attempts": 4, "initial_interval": 10}
    assert chosen(action("n", "cb", retry=fits)) == ["n"]
    assert chosen(action("n", "cb", retry={**fits, "max_attempts": 5})) == []
    slow = DestinationPlan(signaling=True, sla_seconds=SYNC_DELIVERY_SECONDS - 29)
    assert chosen(action("n", "slow"), plans={"slow": slow}) == []
    assert chosen(action("n", "cb", start_delay=5)) == []


def test_a_retry_schedule_is_planned_at_its_worst_case():
    # 4 attempts of (10 s SLA + 30 s margin) = 160 s, backoffs 10 + 20 + 40 = 70 s: 230 s fits.
    fits = {"max_attempts": 4, "initial_interval": 10}
    assert chosen(action("n", retry=fits)) == ["n"]
    # One more attempt: 200 s of attempts and 150 s of backoffs.
    assert chosen(action("n", retry={**fits, "max_attempts": 5})) == []
    # The attempt timeout, when given, replaces the SLA: 5 x 20 s + 150 s = 250 s.
    assert chosen(action("n", retry={**fits, "max_attempts": 5, "timeout": 20})) == []
    assert chosen(action("n", retry={**fits, "max_attempts": 5, "timeout": 17})) == ["n"]
    # A slow destination (a 220 s SLA and the margin) does not fit even once; one of 210 s
    # would, but one delivery must end within a synchronous dispatcher invoke (below).
    assert chosen(action("n", "slow"), plans={"slow": DestinationPlan(False, 220)}) == []
    assert chosen(action("n", "slow"), plans={"slow": DestinationPlan(False, 210)}) == []


def test_the_hand_off_rule_counts_the_next_wait_and_attempt():
    assert not must_hand_off(100, 100, 70)  # ends at 270 s
    assert must_hand_off(100, 100, 71)
    assert must_hand_off(0, 300, 1)  # a 300 s backoff never fits


def test_an_outcome_that_would_not_fit_becomes_a_hand_off_at_the_failed_attempt(monkeypatch):
    start = clock.now()
    monkeypatch.setattr("stepwise.engine.express.now", lambda: start + timedelta(seconds=200))
    again = {"next": "again", "attempt": 3, "wait_seconds": 40}
    assert fitted(again, start, 30) == again  # 200 + 40 + 30 = 270
    assert fitted(again, start, 31) == hand_off(2)
    assert hand_off(2) == {"next": "handoff", "attempt": 2, "prepared": True}
    # A Standard execution's outcome and outcomes that are not waits pass unchanged.
    assert fitted(again, None, 1000) == again
    done = {"next": "done"}
    assert fitted(done, start, 1000) == done


def test_a_destination_slower_than_one_synchronous_delivery_stays_on_standard():
    """An Express delivery is one synchronous dispatcher invoke: its SLA plus the margin must
    end within SYNC_DELIVERY_SECONDS, even when the whole schedule would fit in 240 s."""
    within = DestinationPlan(signaling=False, sla_seconds=SYNC_DELIVERY_SECONDS - 30)
    slow = DestinationPlan(signaling=False, sla_seconds=SYNC_DELIVERY_SECONDS - 29)
    plans = {"within": within, "slow": slow}
    assert chosen(action("a", "within"), action("b", "slow"), plans=plans) == ["a"]


def test_the_dispatcher_outlives_a_synchronous_delivery():
    """template.yaml and the plan agree: the function's timeout leaves room past the longest
    delivery the plan puts on Express."""
    from stepwise_local.template import load_template

    dispatcher = load_template()["Resources"]["DispatcherFunction"]["Properties"]
    assert dispatcher["Timeout"] >= SYNC_DELIVERY_SECONDS + 20
