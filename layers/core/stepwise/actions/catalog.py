"""Credentials and webhook destinations: their records, their secrets and their rules."""

import ipaddress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from stepwise.actions.models import (
    Credential,
    CredentialCreate,
    DestinationCreate,
    DestinationUpdate,
)
from stepwise.actions.store import CatalogStore
from stepwise.actions.webhooks.signing import new_signing_secret
from stepwise.actions.webhooks.ssrf import refusal
from stepwise.core.clock import iso, now, now_iso
from stepwise.core.errors import Forbidden, NotFound, ValidationFailed, field_error
from stepwise.core.ids import new_id
from stepwise.infra.vault import Vault

# When the destination's signing secret was last rotated (on its record).
ROTATED_AT = "secret_rotated_at"

# The conditional admin rules of destinations; the API documents them in x-scope-note.
CREDENTIAL_NEEDS_ADMIN = "giving a destination a credential needs the admin scope"
REPOINT_NEEDS_ADMIN = (
    "changing the url of a destination that has a credential needs the admin scope"
)


class Catalog:
    def __init__(self, table: str, vault: Vault, allow_loopback: bool):
        self.table = table
        self.catalog_store = CatalogStore(table)
        self.vault = vault
        self.allow_loopback = allow_loopback

    # -- credentials ----------------------------------------------------------------------------

    def create_credential(self, org_id: str, body: CredentialCreate) -> Credential:
        credential_id = new_id("cred")
        arn = self.vault.create(
            f"org/{org_id}/credential/{credential_id}",
            body.secret_value(),
            f"Stepwise credential {body.name!r} of org {org_id}",
        )
        item = self.catalog_store.put_credential(
            org_id,
            credential_id,
            {
                "id": credential_id,
                "org_id": org_id,
                "name": body.name,
                "type": str(body.type),
                "header_name": body.header_name,
                "secret_arn": arn,
                "created_at": now_iso(),
            },
        )
        return Credential.model_validate(item)

    def get_credential(self, org_id: str, credential_id: str) -> dict[str, Any]:
        item = self.catalog_store.credential(org_id, credential_id)
        if item is None:
            raise NotFound("credential", credential_id)
        return item

    def list_credentials(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[Credential], str | None]:
        items, last = self.catalog_store.credentials(org_id, limit, after)
        return [Credential.model_validate(i) for i in items], last

    def delete_credential(self, org_id: str, credential_id: str) -> None:
        """Marks the record deleted and schedules its secret's deletion (idempotent)."""
        item = self.get_credential(org_id, credential_id)
        self.catalog_store.mark_credential_deleted(org_id, credential_id, now_iso())
        self.vault.delete(item["secret_arn"])

    # -- destinations ---------------------------------------------------------------------------

    def create_destination(
        self, org_id: str, body: DestinationCreate, admin: bool
    ) -> tuple[dict[str, Any], str]:
        """The destination's record and its signing secret (returned this once). Only
        ``admin`` may give it a credential."""
        if body.credential_id is not None and not admin:
            raise Forbidden(CREDENTIAL_NEEDS_ADMIN)
        self._check_url(str(body.url))
        self._check_credential(org_id, body.credential_id)
        destination_id = new_id("dest")
        secret = new_signing_secret()
        arn = self.vault.create(
            f"org/{org_id}/destination/{destination_id}/signing",
            {"current": secret},
            f"Stepwise webhook signing secret of destination {destination_id}",
        )
        created = now_iso()
        fields = {
            "id": destination_id,
            "org_id": org_id,
            "label": body.label,
            "type": body.type,
            "url": str(body.url),
            "headers": body.headers,
            "signaling": body.signaling.model_dump(mode="json"),
            "response_time_sla_ms": body.response_time_sla_ms,
            "credential_id": body.credential_id,
            "tags": body.tags,
            "secret_arn": arn,
            "created_at": created,
            "updated_at": created,
        }
        return self.catalog_store.put_destination(org_id, destination_id, fields), secret

    def get_destination(self, org_id: str, destination_id: str) -> dict[str, Any]:
        item = self.catalog_store.destination(org_id, destination_id)
        if item is None:
            raise NotFound("destination", destination_id)
        return item

    def list_destinations(
        self, org_id: str, limit: int, after: str | None, include_deleted: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        items, last = self.catalog_store.destinations(org_id, limit, after)
        return [i for i in items if include_deleted or "deleted_at" not in i], last

    def update_destination(
        self, org_id: str, destination_id: str, body: DestinationUpdate, admin: bool
    ) -> dict[str, Any]:
        """Changes the fields given. Without ``admin``, the change may not give the destination
        a credential, nor re-point (``url``) one that has a credential: either would send a
        stored secret to a place the caller chose."""
        changes = body.model_dump(mode="json", exclude_unset=True)
        if changes.get("credential_id") is not None and not admin:
            raise Forbidden(CREDENTIAL_NEEDS_ADMIN)
        if "url" in changes:
            self._check_url(changes["url"])
        if "credential_id" in changes:
            self._check_credential(org_id, changes["credential_id"])
        # Checked in the write itself, so a credential attached meanwhile is not re-pointed.
        repoints = "url" in changes and "credential_id" not in changes and not admin
        changes["updated_at"] = now_iso()
        item = self.catalog_store.update_destination(
            org_id, destination_id, changes, without_credential=repoints
        )
        if item is None:
            current = self.get_destination(org_id, destination_id)  # 404 if it is not there
            if repoints and "deleted_at" not in current and current.get("credential_id"):
                raise Forbidden(REPOINT_NEEDS_ADMIN)
            raise NotFound("destination", destination_id)
        return item

    def delete_destination(self, org_id: str, destination_id: str) -> dict[str, Any]:
        """Soft delete: the record stays readable with ``deleted_at``; nothing is sent to it."""
        item = self.catalog_store.delete_destination(org_id, destination_id, now_iso())
        if item is None:
            raise NotFound("destination", destination_id)
        return item

    def rotate_signing_secret(self, org_id: str, destination_id: str, grace_seconds: int) -> str:
        """A new signing secret; the old one keeps signing too for ``grace_seconds``.

        Write-only: the new version goes in as ``AWSCURRENT`` and Secrets Manager keeps the one it
        replaces as ``AWSPREVIOUS``, which the dispatcher reads while ``previous_until`` lasts. So
        the API's role needs no ``GetSecretValue`` on any org's secrets."""
        item = self.get_destination(org_id, destination_id)
        if "deleted_at" in item:
            raise NotFound("destination", destination_id)
        secret = new_signing_secret()
        until = iso(now() + timedelta(seconds=grace_seconds))
        self.vault.replace(item["secret_arn"], {"current": secret, "previous_until": until})
        # The dispatcher keeps secrets it read for a while, under this stamp: a new one makes
        # its next delivery read the new secret (vault.py).
        self.catalog_store.update_destination(org_id, destination_id, {ROTATED_AT: now_iso()})
        return secret

    def signing_secrets(self, item: dict[str, Any]) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous in its grace
        (read by the dispatcher, never by the API)."""
        stamp = item.get(ROTATED_AT, "")
        value = self.vault.read(item["secret_arn"], stamp)
        signing = [value["current"]]
        if value.get("previous_until", "") <= now_iso():
            return signing
        # Secrets rotated before rotation became write-only carry the previous one inline.
        previous = value.get("previous") or (
            self.vault.read_previous(item["secret_arn"], stamp) or {}
        )
        if isinstance(previous, dict):
            previous = previous.get("current")
        if previous and previous != value["current"]:
            signing.append(previous)
        return signing

    # -- rules ----------------------------------------------------------------------------------

    def _check_url(self, url: str) -> None:
        """Refuses, at save time, hosts that are non-public on their face (an IP literal or
        localhost). Host names are resolved and checked again on every delivery."""
        host = urlsplit(url).hostname or ""
        reason = None
        if host == "localhost" or host.endswith(".localhost"):
            reason = None if self.allow_loopback else "a loopback address"
        else:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                return
            reason = refusal(host, self.allow_loopback)
        if reason:
            message = f"{host} is {reason}; destinations must be public (SSRF guard)"
            raise ValidationFailed([field_error(["body", "url"], message, "ssrf")])

    def _check_credential(self, org_id: str, credential_id: str | None) -> None:
        if credential_id is None:
            return
        item = self.catalog_store.credential(org_id, credential_id)
        if item is None or "deleted_at" in item:
            message = f"unknown credential {credential_id!r}"
            raise ValidationFailed([field_error(["body", "credential_id"], message, "unknown")])
