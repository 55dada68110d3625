"""Actions in the table: definitions (a head per name and its immutable versions), credentials
and webhook destinations."""

from typing import Any

from botocore.exceptions import ClientError

from stepwise.infra import dynamo, keys


class DefinitionStore:
    def __init__(self, table: str):
        self.table = table

    def head(self, org_id: str, name: str) -> dict[str, Any] | None:
        """A definition's head: its id, latest version, aliases and ``deleted_at``."""
        return dynamo.get_item(self.table, keys.action_head(org_id, name))

    def version(self, org_id: str, name: str, version: int) -> dict[str, Any] | None:
        """One version of a definition (never changed once written: read at half the units,
        strongly only on a miss)."""
        return dynamo.get_immutable(self.table, keys.action_version(org_id, name, version))

    def destination(self, org_id: str, destination_id: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.destination(org_id, destination_id))

    def put_version(
        self,
        org_id: str,
        name: str,
        version: int,
        fields: dict[str, Any],
        aliases: dict[str, int],
        new_head: dict[str, Any] | None,
    ) -> bool:
        """Writes ``version`` and moves the head to it with ``aliases``, both or neither;
        ``new_head`` is the head's fields when this is the name's first version. False when
        the head changed meanwhile (or the definition was deleted)."""
        if new_head is not None:
            head_write = dynamo.put_new_item(
                self.table,
                {
                    **keys.action_head(org_id, name),
                    **keys.actions_index(org_id, name),
                    **new_head,
                    "latest_version": version,
                    "aliases": aliases,
                },
            )
        else:
            head_write = {
                "Update": {
                    "TableName": self.table,
                    "Key": dynamo.to_item(keys.action_head(org_id, name)),
                    "UpdateExpression": "SET latest_version = :new, aliases = :aliases",
                    "ConditionExpression": "latest_version = :old "
                    "AND attribute_not_exists(deleted_at)",
                    "ExpressionAttributeValues": dynamo.values(
                        {":new": version, ":old": version - 1, ":aliases": aliases}
                    ),
                }
            }
        put_version = dynamo.put_new_item(
            self.table, {**keys.action_version(org_id, name, version), **fields}
        )
        try:
            dynamo.write_all([head_write, put_version])
        except ClientError as exc:
            if dynamo.condition_failed(exc):
                return False
            raise
        return True

    def set_alias(self, org_id: str, name: str, alias: str, version: int) -> None:
        dynamo.update_item(
            self.table,
            keys.action_head(org_id, name),
            "SET aliases.#alias = :version",
            {":version": version},
            names={"#alias": alias},
        )

    def delete(self, org_id: str, name: str, at: str) -> bool:
        """Marks the definition deleted (once: a later delete keeps the first time); False if
        it does not exist."""
        item = dynamo.update_item(
            self.table,
            keys.action_head(org_id, name),
            "SET deleted_at = if_not_exists(deleted_at, :now)",
            {":now": at},
            condition="attribute_exists(PK)",
        )
        return item is not None

    def heads(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the org's definition heads, by name; the last name if more follow."""
        return dynamo.query_index(self.table, keys.actions_index_pk(org_id), limit, after)


class CatalogStore:
    def __init__(self, table: str):
        self.table = table

    # -- credentials ----------------------------------------------------------------------------

    def put_credential(
        self, org_id: str, credential_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Writes a new credential's record; the item as written."""
        item = {
            **keys.credential(org_id, credential_id),
            **keys.credentials_index(org_id, credential_id),
            **fields,
        }
        dynamo.put_new(self.table, item)
        return item

    def credential(self, org_id: str, credential_id: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.credential(org_id, credential_id))

    def credentials(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return dynamo.query_index(self.table, keys.credentials_index_pk(org_id), limit, after)

    def mark_credential_deleted(self, org_id: str, credential_id: str, at: str) -> None:
        """Sets ``deleted_at`` unless it is set already."""
        dynamo.update_item(
            self.table,
            keys.credential(org_id, credential_id),
            "SET deleted_at = :now",
            {":now": at},
            condition="attribute_not_exists(deleted_at)",
        )

    # -- destinations ---------------------------------------------------------------------------

    def put_destination(
        self, org_id: str, destination_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Writes a new destination's record; the item as written."""
        item = {
            **keys.destination(org_id, destination_id),
            **keys.destinations_index(org_id, destination_id),
            **fields,
        }
        dynamo.put_new(self.table, item)
        return item

    def destination(self, org_id: str, destination_id: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.destination(org_id, destination_id))

    def destinations(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return dynamo.query_index(self.table, keys.destinations_index_pk(org_id), limit, after)

    def update_destination(
        self,
        org_id: str,
        destination_id: str,
        changes: dict[str, Any],
        without_credential: bool = False,
    ) -> dict[str, Any] | None:
        """Sets ``changes`` on a destination that exists and is not deleted (and, with
        ``without_credential``, has no credential at the moment of the write); the item as
        updated, or None."""
        condition = "attribute_exists(PK) AND attribute_not_exists(deleted_at)"
        values = {f":{k}": v for k, v in changes.items()}
        if without_credential:
            condition += (
                " AND (attribute_not_exists(credential_id) OR attribute_type(credential_id, :null))"
            )
            values[":null"] = "NULL"
        return dynamo.update_item(
            self.table,
            keys.destination(org_id, destination_id),
            "SET " + ", ".join(f"#{k} = :{k}" for k in changes),
            values,
            condition=condition,
            names={f"#{k}": k for k in changes},
            returns="ALL_NEW",
        )

    def delete_destination(
        self, org_id: str, destination_id: str, at: str
    ) -> dict[str, Any] | None:
        """Marks a destination deleted (once: a later delete keeps the first time); the item
        as updated, or None if it does not exist."""
        return dynamo.update_item(
            self.table,
            keys.destination(org_id, destination_id),
            "SET deleted_at = if_not_exists(deleted_at, :now)",
            {":now": at},
            condition="attribute_exists(PK)",
            returns="ALL_NEW",
        )
