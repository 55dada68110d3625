"""A payload kept inline (``name``) or in S3 (``name_s3``) never leaves the other form behind.

``PayloadStore.load`` reads the inline attribute first, so a write that put the payload in S3
without removing an older inline value lost it: each test below ended with ``null`` (or the
older value) before every payload write removed the attribute it does not set.
"""

import json

from stepwise import components
from stepwise.infra.payloads import INLINE_LIMIT_BYTES
from stepwise_local.receiver import Answer
from tests.integration.actions.test_dispatcher import ORG, prepared_attempt
from tests.integration.actions.test_signals import SIGNALING, signal
from tests.integration.runs.test_external_runs import call

BIG = {"rows": ["x" * 1000] * (INLINE_LIMIT_BYTES // 1000 + 8)}  # past the inline limit


def step(name, run_id, attempt, **extra):
    event = {"step": name, "org_id": ORG, "run_id": run_id, "node_ref": "call", "attempt": attempt}
    return components.engine().handle({**event, **extra})


def delivery(run_id, attempt):
    return {"org_id": ORG, "run_id": run_id, "node_ref": "call", "attempt": attempt}


def node_item(run_id):
    return components.store().runs.get_node(ORG, run_id, "call")


def test_a_retry_that_answers_past_the_inline_limit_keeps_its_result(stack, receiver, resumed):
    url = receiver.answer("/big", Answer(500, None), Answer(200, BIG))
    retry = {"max_attempts": 2, "initial_interval": 0}
    run_id, message = prepared_attempt(stack, url, retry=retry)
    components.dispatcher().deliver(message)  # 500: the answer's null is kept inline
    assert node_item(run_id).delivery_result.text == "null"
    again = step("action_settled", run_id, 1, delivery={"reason": "delivered"})
    assert again["next"] == "again" and again["attempt"] == 2
    assert step("attempt", run_id, 2)["next"] == "deliver"
    components.dispatcher().deliver({**delivery(run_id, 2), "task_token": "node-token-2"})
    step("action_settled", run_id, 2, delivery={"reason": "delivered"})
    settled = node_item(run_id)
    assert settled.status == "succeeded"
    assert components.store().payloads.read(settled.output) == BIG
    assert settled.delivery_result.text is None and settled.delivery_result.s3_key


def test_a_retried_callback_past_the_inline_limit_keeps_its_result(stack, receiver, resumed):
    url = receiver.answer("/ack", Answer(202))
    retry = {"max_attempts": 2, "initial_interval": 0}
    run_id, message = prepared_attempt(stack, url, signaling=SIGNALING, retry=retry)
    components.dispatcher().deliver(message)
    first = json.loads(receiver.at("/ack")[0].body)["data"]["signal_url"].rsplit("/", 1)[1]
    failure = {"signal": "failure", "error": {"type": "Busy"}, "retryable": True}
    assert signal(stack, first, failure)[0] == 202  # its result (none) is kept inline
    assert node_item(run_id).signal_result.text == "null"
    again = step("action_settled", run_id, 1, delivery={"reason": "signalled"})
    assert again["next"] == "again"
    assert step("attempt", run_id, 2)["next"] == "deliver"
    components.dispatcher().deliver({**delivery(run_id, 2), "task_token": "node-token-2"})
    second = json.loads(receiver.at("/ack")[1].body)["data"]["signal_url"].rsplit("/", 1)[1]
    assert signal(stack, second, {"signal": "success", "result": BIG})[0] == 202
    step("action_settled", run_id, 2, delivery={"reason": "signalled"})
    settled = node_item(run_id)
    assert settled.status == "succeeded"
    assert components.store().payloads.read(settled.output) == BIG
    assert settled.signal_result.text is None and settled.signal_result.s3_key


def test_an_external_runs_args_and_outputs_grow_past_the_limit_and_shrink_back(stack):
    status, _ = call(stack, "POST", "/runs/external", {"id": "job-9", "workflow_id": "etl"})
    assert status == 201
    call(stack, "PUT", "/runs/job-9", {"args": {"small": 1}, "outputs": {"rows": 1}})
    status, payload = call(stack, "PUT", "/runs/job-9", {"args": BIG, "outputs": BIG})
    assert status == 200, payload
    run = call(stack, "GET", "/runs/job-9")[1]["data"]
    assert run["args"] == BIG and run["outputs"] == BIG
    item = components.store().runs.get_run(ORG, "job-9")
    assert (item.args.text, item.outputs.text) == (None, None)
    assert item.args.s3_key and item.outputs.s3_key
    call(stack, "PUT", "/runs/job-9", {"args": {"small": 2}, "outputs": {"rows": 2}})
    run = call(stack, "GET", "/runs/job-9")[1]["data"]
    assert run["args"] == {"small": 2} and run["outputs"] == {"rows": 2}
    item = components.store().runs.get_run(ORG, "job-9")
    assert (item.args.s3_key, item.outputs.s3_key) == (None, None)
