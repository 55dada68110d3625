"""Fires the stack's schedules locally: moto stores EventBridge Scheduler schedules and rules but
never fires them, so this does, on a clock of its own, with EventBridge's expression semantics
(``stepwise.schedules.expressions``).

``tick(now)`` fires everything due since the previous tick; the local stack calls it every
second on the real clock, and tests call it with the time they want (an injected clock).
"""

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stepwise.core.observability import logger
from stepwise.schedules.expressions import next_fire
from stepwise.schedules.service import SCHEDULED_TIME
from stepwise_local import call_log, lambdas
from stepwise_local.provision import LocalFunction, local_client
from stepwise_local.template import ACCOUNT_ID, REGION

# A clock that jumped far ahead fires at most this many missed times per schedule per tick.
MAX_CATCH_UP = 60


@dataclass
class Fired:
    """One firing: what it invoked, for which time, and what the function answered."""

    target: str
    scheduled_time: datetime
    result: Any = None
    error: str | None = None


class LocalScheduler:
    def __init__(
        self,
        functions: dict[str, LocalFunction],
        group_name: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.functions = functions
        self.group_name = group_name
        self.clock = clock
        self.started_at = clock()
        self._last: dict[str, datetime] = {}  # schedule or rule -> the last time it was checked
        self._lock = threading.Lock()
        self.fired: list[Fired] = []

    def idle(self) -> threading.Lock:
        """Held while a tick runs: entering it waits for one under way."""
        return self._lock

    def tick(self, now: datetime | None = None) -> list[Fired]:
        """Fires every schedule and rule due in (previous tick, now]; what it fired."""
        now = now or self.clock()
        with self._lock:
            fired = [*self._fire_schedules(now), *self._fire_rules(now)]
            self.fired.extend(fired)
            return fired

    # -- EventBridge Scheduler schedules (the API's) ---------------------------------------------

    def _fire_schedules(self, now: datetime) -> list[Fired]:
        scheduler = local_client("scheduler")
        fired: list[Fired] = []
        pages = scheduler.get_paginator("list_schedules").paginate(GroupName=self.group_name)
        for summary in (s for page in pages for s in page["Schedules"]):
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=self.group_name)
            key = f"schedule:{schedule['Name']}"
            anchor = (schedule.get("StartDate") or schedule["CreationDate"]).astimezone(UTC)
            # A rate schedule with no start date fires at once, like Scheduler's.
            since = self._last.get(key, anchor - timedelta(microseconds=1))
            self._last[key] = max(since, now)
            if schedule.get("State") != "ENABLED":
                continue
            for at in self._due(
                schedule["ScheduleExpression"],
                schedule.get("ScheduleExpressionTimezone") or "UTC",
                since,
                now,
                anchor,
            ):
                target = schedule["Target"]
                # Scheduler invokes the target with the schedule's role.
                call_log.record_as(
                    target["RoleArn"], "lambda", "Invoke", {"FunctionName": target["Arn"]}
                )
                payload = json.loads(
                    target.get("Input", "{}").replace(
                        SCHEDULED_TIME, at.strftime("%Y-%m-%dT%H:%M:%SZ")
                    )
                )
                fired.append(self._invoke(target["Arn"], at, payload))
        return fired

    # -- EventBridge rules (SAM Schedule events of the template's functions) --------------------

    def _fire_rules(self, now: datetime) -> list[Fired]:
        fired: list[Fired] = []
        for function in self.functions.values():
            for expression in function.rules:
                key = f"rule:{function.logical_id}:{expression}"
                since = self._last.get(key, self.started_at)
                self._last[key] = max(since, now)
                for at in self._due(expression, "UTC", since, now, self.started_at):
                    event = {
                        "version": "0",
                        "id": str(uuid.uuid4()),
                        "detail-type": "Scheduled Event",
                        "source": "aws.events",
                        "account": ACCOUNT_ID,
                        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "region": REGION,
                        "resources": [
                            f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{function.name}-rule"
                        ],
                        "detail": {},
                    }
                    fired.append(self._invoke(function.name, at, event))
        return fired

    # -- shared ---------------------------------------------------------------------------------

    @staticmethod
    def _due(
        expression: str, timezone: str, since: datetime, now: datetime, anchor: datetime
    ) -> list[datetime]:
        times: list[datetime] = []
        at = next_fire(expression, timezone, since, anchor)
        while at is not None and at <= now:
            times.append(at)
            at = next_fire(expression, timezone, at, anchor)
        if len(times) > MAX_CATCH_UP:
            logger.warning(
                "local scheduler skipped missed firings",
                extra={"expression": expression, "skipped": len(times) - MAX_CATCH_UP},
            )
            times = times[-MAX_CATCH_UP:]
        return times

    def _invoke(self, target_arn: str, at: datetime, payload: Any) -> Fired:
        """An asynchronous invocation, as Scheduler and EventBridge rules make: an error is
        retried by Lambda (``async_retries`` times; at once here, minutes apart on AWS), then its
        failure record goes to the function's on-failure queue, if it has one. Neither
        Scheduler's retry policy nor its dead-letter queue sees it: Scheduler's invocation
        succeeded."""
        name = target_arn.rsplit(":function:", 1)[-1]
        function = self.functions.get(name)
        tries = 1 + (function.async_retries if function else 2)
        for _ in range(tries):
            try:
                return Fired(name, at, result=lambdas.invoke(name, payload))
            except Exception as exc:  # noqa: BLE001 Lambda retries it, then gives it up
                logger.exception("scheduled invocation failed", extra={"target": name})
                error = exc
        if function and function.on_failure_queue_url:
            # Lambda sends the record to the destination with the function's role.
            with call_log.acting_as(name):
                local_client("sqs").send_message(
                    QueueUrl=function.on_failure_queue_url,
                    MessageBody=json.dumps(_failure_record(target_arn, payload, error, tries)),
                )
        return Fired(name, at, error=f"{type(error).__name__}: {error}")


def _failure_record(function_arn: str, payload: Any, error: Exception, count: int) -> dict:
    """What Lambda sends an on-failure destination when an asynchronous invocation's retries
    are exhausted (the fields an operator reads: the event, the error, how often it ran)."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": count,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)},
    }
