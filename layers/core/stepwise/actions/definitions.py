"""Action definitions: immutable versions, aliases, an input JSON Schema and destinations."""

import json
from typing import Any

import fastjsonschema

from stepwise.actions.models import (
    ActionDefinition,
    ActionDefinitionCreate,
    DefinitionDestinationView,
    destination_view,
)
from stepwise.actions.schemas import SchemaRefused, compile_schema
from stepwise.actions.store import DefinitionStore
from stepwise.core.clock import now_iso
from stepwise.core.errors import Conflict, NotFound, ValidationFailed, field_error
from stepwise.core.ids import new_id
from stepwise.infra.payloads import dumps

# A definition version is one item: its schema stays well inside DynamoDB's 400 KB.
MAX_SCHEMA_BYTES = 64 * 1024


class InputRejected(Exception):
    """Input that breaks the definition's JSON Schema (a permanent, non-retryable failure)."""


class ActionDefinitions:
    def __init__(self, table: str):
        self.table = table
        self.definition_store = DefinitionStore(table)

    def create_version(self, org_id: str, body: ActionDefinitionCreate) -> ActionDefinition:
        """Version 1 of a new name, or the next version of an existing one."""
        self._check(org_id, body)
        head = self.definition_store.head(org_id, body.name)
        if head is not None and "deleted_at" in head:
            raise Conflict(f"action definition {body.name!r} was deleted")
        version = int(head["latest_version"]) + 1 if head else 1
        definition_id = head["id"] if head else new_id("act")
        created = now_iso()
        aliases = {**(head or {}).get("aliases", {}), "latest": version}
        aliases.update(dict.fromkeys(body.aliases, version))
        version_item = {
            "id": definition_id,
            "org_id": org_id,
            "name": body.name,
            "version": version,
            "variant": body.variant,
            # Exact JSON text: DynamoDB's number type cannot hold every JSON number (floats).
            "schema_json": None if body.schema_ is None else dumps(body.schema_),
            "destinations": [d.model_dump() for d in self._defaults(body)],
            "tags": body.tags,
            "created_at": created,
        }
        new_head = (
            {"id": definition_id, "org_id": org_id, "name": body.name, "created_at": created}
            if head is None
            else None
        )
        if not self.definition_store.put_version(
            org_id, body.name, version, version_item, aliases, new_head
        ):
            raise Conflict("the definition changed concurrently; try again")
        return self.resolve(org_id, body.name, version=version)

    def resolve(
        self,
        org_id: str,
        name: str,
        version: int | None = None,
        alias: str | None = None,
        with_destinations: bool = True,
    ) -> ActionDefinition:
        """``name``, ``name`` at a version, or ``name`` at an alias (``name@alias`` in nodes)."""
        head = self.definition_store.head(org_id, name)
        if head is None:
            raise NotFound("action definition", name)
        aliases: dict[str, int] = {k: int(v) for k, v in head.get("aliases", {}).items()}
        if alias is not None:
            if alias not in aliases:
                raise NotFound("alias", f"{name}@{alias}")
            version = aliases[alias]
        version = version or int(head["latest_version"])
        item = self.definition_store.version(org_id, name, version)
        if item is None:
            raise NotFound("action definition version", f"{name}@{version}")
        return ActionDefinition(
            id=item["id"],
            org_id=org_id,
            name=name,
            variant=item.get("variant"),
            version=version,
            alias=sorted(a for a, v in aliases.items() if v == version),
            schema_=json.loads(item["schema_json"]) if "schema_json" in item else None,
            destinations=[
                DefinitionDestinationView(
                    id=f"{item['id']}.{d['destination_id']}",
                    action_definition_id=item["id"],
                    destination_id=d["destination_id"],
                    org_id=org_id,
                    is_default=d["is_default"],
                    destination=self._destination(org_id, d["destination_id"])
                    if with_destinations
                    else None,
                )
                for d in item.get("destinations", [])
            ],
            tags=item.get("tags", {}),
            created_at=item["created_at"],
            deleted_at=head.get("deleted_at"),
        )

    def set_alias(self, org_id: str, name: str, alias: str, version: int) -> ActionDefinition:
        head = self.definition_store.head(org_id, name)
        if head is None or "deleted_at" in head:
            raise NotFound("action definition", name)
        if not 1 <= version <= int(head["latest_version"]):
            message = f"{name} has no version {version}"
            raise ValidationFailed([field_error(["body", "version"], message, "unknown_version")])
        if alias == "latest":
            message = "'latest' always points at the newest version"
            raise ValidationFailed([field_error(["path", "alias"], message, "reserved")])
        self.definition_store.set_alias(org_id, name, alias, version)
        return self.resolve(org_id, name, version=version)

    def delete(self, org_id: str, name: str) -> ActionDefinition:
        """Soft delete: readable with ``deleted_at``; no new version; nodes refuse it."""
        if not self.definition_store.delete(org_id, name, now_iso()):
            raise NotFound("action definition", name)
        return self.resolve(org_id, name)

    def list(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[ActionDefinition], str | None]:
        heads, last = self.definition_store.heads(org_id, limit, after)
        return [self.resolve(org_id, h["name"], with_destinations=False) for h in heads], last

    # -- rules ----------------------------------------------------------------------------------

    def _check(self, org_id: str, body: ActionDefinitionCreate) -> None:
        errors: list[dict[str, Any]] = []
        if body.schema_ is not None:
            reason = schema_error(body.schema_)
            size = len(dumps(body.schema_).encode())
            if size > MAX_SCHEMA_BYTES:
                reason = (
                    f"the schema is {size} bytes of JSON; at most {MAX_SCHEMA_BYTES} are allowed"
                )
            if reason:
                errors.append(field_error(["body", "schema"], reason, "json_schema"))
        if sum(d.is_default for d in body.destinations) > 1:
            message = "at most one destination may be the default"
            errors.append(field_error(["body", "destinations"], message, "default"))
        for index, link in enumerate(body.destinations):
            item = self.definition_store.destination(org_id, link.destination_id)
            if item is None or "deleted_at" in item:
                errors.append(
                    field_error(
                        ["body", "destinations", index, "destination_id"],
                        f"unknown destination {link.destination_id!r}",
                        "unknown",
                    )
                )
        if errors:
            raise ValidationFailed(errors)

    @staticmethod
    def _defaults(body: ActionDefinitionCreate):
        links = list(body.destinations)
        if not any(d.is_default for d in links):
            links[0] = links[0].model_copy(update={"is_default": True})
        return links

    def _destination(self, org_id: str, destination_id: str):
        item = self.destination_item(org_id, destination_id)
        return destination_view(item) if item else None

    def destination_item(self, org_id: str, destination_id: str) -> dict[str, Any] | None:
        """A destination's item as stored (deleted ones too); None when there is none."""
        return self.definition_store.destination(org_id, destination_id)


def resolve_action(
    definitions: ActionDefinitions, org_id: str, reference: str, with_destinations: bool = True
) -> ActionDefinition:
    """``name``, ``name@alias`` or ``name@version`` to the definition version it means."""
    name, _, at = reference.partition("@")
    if at.isdigit():
        return definitions.resolve(
            org_id, name, version=int(at), with_destinations=with_destinations
        )
    return definitions.resolve(org_id, name, alias=at or None, with_destinations=with_destinations)


def schema_error(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not an acceptable JSON Schema (remote $refs are refused), or None."""
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return f"only local $ref (starting with '#') is allowed, not {ref!r}"
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    try:
        compile_schema(schema)
    except SchemaRefused as exc:
        return str(exc)
    return None


def check_input(definition: ActionDefinition, value: Any) -> None:
    """InputRejected with the schema's message when ``value`` breaks the definition's schema."""
    if definition.schema_ is None:
        return
    try:
        compile_schema(definition.schema_)(value)
    except SchemaRefused as exc:
        # Saved before the rules that refuse it existed: fail the attempt, fetch nothing.
        raise InputRejected(f"the action's input schema cannot be used: {exc}") from None
    except fastjsonschema.JsonSchemaValueException as exc:
        raise InputRejected(
            f"Failed schema validation. Error: {exc.message}, Path: {exc.path}, Data: {exc.value}"
        ) from None
