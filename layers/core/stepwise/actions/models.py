"""Request and response shapes of credentials and webhook destinations (seed 000)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from stepwise.actions.webhooks.responses import Signal
from stepwise.core.fields import TAGS

HEADER_NAME = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")]
# Header text only: tab, printable ASCII and printable Latin-1. No control characters (a CR or
# LF would split the header: header injection), and nothing beyond Latin-1, which http.client
# and urllib3 (basic auth) cannot encode: such a value made every delivery raise.
HEADER_VALUE = Annotated[str, Field(max_length=4096, pattern=r"^[\t\x20-\x7e\xa0-\xff]*$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Basic auth joins username and password with ':', so the username may not hold one.
_USERNAME = Annotated[str, Field(max_length=512, pattern=r"^[\t\x20-\x39\x3b-\x7e\xa0-\xff]*$")]


class CredentialType(StrEnum):
    BEARER = "bearer"
    BASIC = "basic"
    HEADER = "header"


class CredentialCreate(_Input):
    """A credential a destination presents; its value goes to Secrets Manager, never back out."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "crm token", "type": "bearer", "token": "crm-api-token"}]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    type: CredentialType
    # Every value ends up in a request header: no control characters (a CR or LF would split
    # it, and http.client's error for it quotes the value into logs and traces).
    token: HEADER_VALUE | None = Field(None, min_length=1, description="bearer")
    username: _USERNAME | None = Field(None, min_length=1, description="basic")
    password: HEADER_VALUE | None = Field(None, min_length=1, description="basic")
    header_name: HEADER_NAME | None = Field(None, description="header")
    header_value: HEADER_VALUE | None = Field(None, min_length=1, description="header")

    @model_validator(mode="after")
    def _fields_for_type(self) -> "CredentialCreate":
        needed = {
            CredentialType.BEARER: {"token"},
            CredentialType.BASIC: {"username", "password"},
            CredentialType.HEADER: {"header_name", "header_value"},
        }[self.type]
        every = {"token", "username", "password", "header_name", "header_value"}
        missing = sorted(f for f in needed if getattr(self, f) is None)
        extra = sorted(f for f in every - needed if getattr(self, f) is not None)
        if missing:
            raise ValueError(f"a {self.type} credential needs {', '.join(missing)}")
        if extra:
            raise ValueError(f"a {self.type} credential does not take {', '.join(extra)}")
        return self

    def secret_value(self) -> dict[str, str]:
        fields = ("token", "username", "password", "header_name", "header_value")
        return {f: getattr(self, f) for f in fields if getattr(self, f) is not None}


class Credential(BaseModel):
    id: str
    org_id: str
    name: str
    type: CredentialType
    header_name: str | None = None
    created_at: datetime
    deleted_at: datetime | None = None


class Signaling(_Input):
    enabled: bool = False
    default: Signal = Signal.ACK


class DestinationCreate(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "label": "crm",
                    "url": "https://hooks.example.com/stepwise",
                    "headers": {"X-Team": "growth"},
                    "signaling": {"enabled": True, "default": "ack"},
                    "response_time_sla_ms": 5000,
                    "tags": {"team": "growth"},
                }
            ]
        },
    )

    label: str = Field(min_length=1, max_length=200)
    type: str = Field("webhook", pattern="^webhook$")
    url: HttpUrl
    headers: dict[HEADER_NAME, HEADER_VALUE] = Field(default_factory=dict, max_length=50)
    signaling: Signaling = Field(default_factory=Signaling)
    response_time_sla_ms: int = Field(10_000, ge=1, le=900_000)
    credential_id: str | None = Field(None, max_length=128)
    tags: TAGS = Field(default_factory=dict)


class DestinationUpdate(_Input):
    """PATCH: the fields given replace the stored ones."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"response_time_sla_ms": 8000}]}
    )

    label: str | None = Field(None, min_length=1, max_length=200)
    url: HttpUrl | None = None
    headers: dict[HEADER_NAME, HEADER_VALUE] | None = Field(None, max_length=50)
    signaling: Signaling | None = None
    response_time_sla_ms: int | None = Field(None, ge=1, le=900_000)
    credential_id: str | None = Field(None, max_length=128)
    tags: TAGS | None = None


class DestinationConfig(BaseModel):
    url: str
    headers: dict[str, str]
    signaling: Signaling
    response_time_sla_ms: int


class Destination(BaseModel):
    id: str
    org_id: str
    label: str
    type: str
    config: DestinationConfig
    credential_id: str | None = None
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class DestinationWithSecret(Destination):
    signing_secret: str = Field(description="Shown once: verify webhook-signature with it.")


class SecretRotation(_Input):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"grace_period_seconds": 86400}]}
    )

    grace_period_seconds: int = Field(
        24 * 3600, ge=0, le=30 * 24 * 3600, description="How long the old secret also signs."
    )


def destination_view(item: dict[str, Any]) -> Destination:
    return Destination(
        id=item["id"],
        org_id=item["org_id"],
        label=item["label"],
        type=item["type"],
        config=DestinationConfig(
            url=item["url"],
            headers=item.get("headers", {}),
            signaling=Signaling(**item["signaling"]),
            response_time_sla_ms=int(item["response_time_sla_ms"]),
        ),
        credential_id=item.get("credential_id"),
        tags=item.get("tags", {}),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        deleted_at=item.get("deleted_at"),
    )


ACTION_NAME = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
ALIAS_NAME = r"^[a-z][a-z0-9_-]{0,49}$"


class DefinitionDestination(_Input):
    destination_id: str = Field(max_length=128)
    is_default: bool = False


class ActionDefinitionCreate(_Input):
    """A version of an action definition: what input it takes and where it is delivered."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "notify",
                    "variant": "email",
                    "schema": {
                        "type": "object",
                        "required": ["text"],
                        "properties": {"text": {"type": "string"}},
                    },
                    "destinations": [
                        {"destination_id": "dst_01jf3v8k9q2m7x4c5b6n1p0r8t", "is_default": True}
                    ],
                    "aliases": ["prod"],
                    "tags": {"team": "growth"},
                }
            ]
        },
    )

    name: str = Field(pattern=ACTION_NAME, description="Unique in the org; versions share it.")
    variant: str | None = Field(None, max_length=100)
    schema_: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON Schema the action's input must satisfy."
    )
    destinations: list[DefinitionDestination] = Field(min_length=1, max_length=10)
    aliases: list[Annotated[str, Field(pattern=ALIAS_NAME)]] = Field(
        default_factory=list, max_length=20, description="Aliases pointed at this version."
    )
    tags: TAGS = Field(default_factory=dict)


class AliasUpdate(_Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": 2}]})

    version: int = Field(ge=1)


class DefinitionDestinationView(BaseModel):
    id: str
    action_definition_id: str
    destination_id: str
    org_id: str
    is_default: bool
    destination: Destination | None = None


class ActionDefinition(BaseModel):
    id: str
    org_id: str
    name: str
    variant: str | None = None
    version: int
    alias: list[str] = Field(description="The aliases that point at this version.")
    schema_: dict[str, Any] | None = Field(None, serialization_alias="schema")
    destinations: list[DefinitionDestinationView]
    tags: dict[str, str]
    created_at: datetime
    deleted_at: datetime | None = None


class RecordState(BaseModel):
    status: str
    attempt: int
    updated_at: datetime | None = None
    available_at: datetime | None = None
    timeout_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None


class RecordEvent(BaseModel):
    id: str
    action_record_id: str
    org_id: str
    kind: str = Field(
        description="dispatch, answer, ack, heartbeat, signal, timeout, retry, error or success."
    )
    status: str
    attempt: int
    available_at: datetime | None = None
    timeout_at: datetime | None = None
    message: str | None = None
    data: Any = None


class ActionRecord(BaseModel):
    """Seed 000: one action node execution, its state, its definition and its events."""

    id: str
    org_id: str
    action_definition_id: str | None = None
    run_id: str
    node_ref: str
    index: int | None = Field(
        None,
        description="The item of a for_each action node this record delivers (its id is "
        "`{run_id}.{node_ref}[{index}]`); null for a node's single delivery.",
    )
    input: Any = None
    output: Any = None
    timeout: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    state: RecordState
    definition: ActionDefinition | None = None
    events: list[RecordEvent]
