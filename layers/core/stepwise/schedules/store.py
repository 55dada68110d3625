"""Schedules in the table: the schedule items, and what each scheduled time did."""

from typing import Any

from botocore.exceptions import ClientError

from stepwise.infra import aws, dynamo, keys


class ScheduleStore:
    def __init__(self, table: str):
        self.table = table

    def create(self, org_id: str, schedule_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Writes a new schedule; the item as written."""
        item = {
            **keys.schedule(org_id, schedule_id),
            **keys.schedules_index(org_id, schedule_id),
            **fields,
        }
        dynamo.put_new(self.table, item)
        return item

    def get(self, org_id: str, schedule_id: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.schedule(org_id, schedule_id))

    def list(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return dynamo.query_index(self.table, keys.schedules_index_pk(org_id), limit, after)

    def update(
        self, org_id: str, schedule_id: str, assignments: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Sets the attributes of an existing schedule; the item as updated, None if it is gone."""
        return dynamo.update_item(
            self.table,
            keys.schedule(org_id, schedule_id),
            "SET " + ", ".join(f"#{n} = :{n}" for n in assignments),
            {f":{n}": v for n, v in assignments.items()},
            condition="attribute_exists(PK)",
            names={f"#{n}": n for n in assignments},
            returns="ALL_NEW",
        )

    def delete(self, org_id: str, schedule_id: str) -> None:
        aws.client("dynamodb").delete_item(
            TableName=self.table, Key=dynamo.to_item(keys.schedule(org_id, schedule_id))
        )

    # -- firings --------------------------------------------------------------------------------

    def fire_record(self, org_id: str, schedule_id: str, scheduled: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.schedule_fire(org_id, schedule_id, scheduled))

    def record_fire(
        self,
        org_id: str,
        schedule_id: str,
        scheduled: str,
        fields: dict[str, Any],
        counter: str,
    ) -> dict[str, Any] | None:
        """Writes what a scheduled time did and adds one to the schedule's ``counter`` (with
        ``last_fired_at``, and ``last_run_id`` when it started one), both or neither; the
        record as written. None if that time was recorded already or the schedule is gone."""
        fire = {**keys.schedule_fire(org_id, schedule_id, scheduled), **fields}
        sets = ["last_fired_at = :at"]
        named: dict[str, Any] = {":at": scheduled, ":one": 1}
        if fields.get("run_id") is not None:
            sets.insert(0, "last_run_id = :run")
            named[":run"] = fields["run_id"]
        # Why the last firing started no run (an operator's first question), until one starts.
        removed = ""
        if fields.get("reason"):
            sets.append("last_skip_reason = :why")
            named[":why"] = fields["reason"]
        else:
            removed = " REMOVE last_skip_reason"
        expression = f"SET {', '.join(sets)} ADD {counter} :one{removed}"
        try:
            dynamo.write_all(
                [
                    dynamo.put_new_item(self.table, fire),
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": dynamo.to_item(keys.schedule(org_id, schedule_id)),
                            "UpdateExpression": expression,
                            "ExpressionAttributeValues": dynamo.values(named),
                            "ConditionExpression": "attribute_exists(PK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if dynamo.condition_failed(exc):
                return None
            raise
        return fire

    def mark_fire(
        self, org_id: str, schedule_id: str, scheduled: str, fields: dict[str, Any]
    ) -> None:
        dynamo.update_item(
            self.table,
            keys.schedule_fire(org_id, schedule_id, scheduled),
            "SET " + ", ".join(f"#{n} = :{n}" for n in fields),
            {f":{n}": v for n, v in fields.items()},
            names={f"#{n}": n for n in fields},
        )
