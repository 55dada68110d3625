"""Request-scoped dependencies: the caller's org (from its API key) and shared services."""

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request

from stepwise import components
from stepwise.access.api_keys import Scope, allows
from stepwise.access.auth import key_from_headers
from stepwise.access.cursors import CursorCodec
from stepwise.api import idempotency
from stepwise.core import settings
from stepwise.core.errors import Forbidden, NotFound, Unauthorized
from stepwise.infra import hmac_keys
from stepwise.infra.hmac_keys import hmac_key
from stepwise.store import Store

if TYPE_CHECKING:  # only the catalog's routes load it (webhook signing, SSRF guard, models)
    from stepwise.actions.catalog import Catalog

ORG_PATH = Path(pattern=r"^[a-z0-9_.-]+$", max_length=64, description="The org's id.")


def get_store() -> Store:
    return components.store()


def cursor_codec() -> CursorCodec:
    return _codec(settings.api_settings().cursor_secret_arn)


@cache
def _codec(secret_arn: str) -> CursorCodec:
    return CursorCodec(hmac_key(secret_arn))


SCOPE = "x-required-scope"  # an operation's scope, in its OpenAPI entry (default: by method)
SCOPE_NOTE = "x-scope-note"  # when an operation needs more than its scope, and why
WORKFLOW_LIMITED = "x-workflow-limited"  # how a route applies a key's workflow limit


def requires(
    scope: Scope | None = None, note: str | None = None, workflows: str | None = None
) -> dict[str, Any]:
    """A route's ``openapi_extra``: the scope ``caller`` enforces and the document shows (by
    default ``read`` for GET, ``write`` otherwise), a note on conditional scopes, and how the
    route limits a workflow-limited key (a route without it refuses such a key)."""
    extra: dict[str, Any] = {}
    if scope is not None:
        extra[SCOPE] = str(scope)
    if note is not None:
        extra[SCOPE_NOTE] = note
    if workflows is not None:
        extra[WORKFLOW_LIMITED] = workflows
    return extra


def declared_scope(method: str, extra: dict[str, Any] | None) -> Scope:
    """The scope an operation needs before anything else is checked."""
    if extra and SCOPE in extra:
        return Scope(extra[SCOPE])
    return Scope.READ if method.upper() in ("GET", "HEAD") else Scope.WRITE


@dataclass(frozen=True)
class Caller:
    org_id: str
    key_name: str
    scopes: list[str]
    key_id: str | None = None
    workflows: frozenset[str] | None = None  # None: every workflow

    @property
    def actor(self) -> str:
        """How the caller is named in ``*_by`` fields."""
        return f"key:{self.key_name}"

    def holds(self, scope: Scope) -> bool:
        return allows(self.scopes, scope)

    def require(self, scope: Scope) -> None:
        if not self.holds(scope):
            held = ", ".join(self.scopes) or "none"
            raise Forbidden(f"this API key's scopes ({held}) do not include {scope}")

    def sees_workflow(self, workflow_id: str | None) -> bool:
        """Whether the key may see runs (schedules, batches) of this workflow."""
        return self.workflows is None or workflow_id in self.workflows

    def check_visible(self, workflow_id: str | None, kind: str, ident: str) -> None:
        """404, as for another org's, for a resource of a workflow the key is not limited to."""
        if not self.sees_workflow(workflow_id):
            raise NotFound(kind, ident)

    def check_may_start(self, workflow_id: str) -> None:
        """403 for starting runs (a batch, a schedule) of a workflow outside the key's limit."""
        if not self.sees_workflow(workflow_id):
            raise Forbidden(
                f"this API key is limited to workflows {', '.join(sorted(self.workflows or ()))}"
                f"; it cannot start runs of {workflow_id!r}"
            )


def caller(org_id: Annotated[str, ORG_PATH], request: Request) -> Caller:
    """The caller, if its key belongs to the org in the path (another org's key sees 404), its
    scopes allow the route's declared scope (``requires``), and, for a key limited to named
    workflows, the route applies that limit."""
    # Read here rather than declared as Header parameters (undocumented either way): FastAPI
    # builds a validator for each declared parameter of every route, at every cold start.
    key = key_from_headers(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if key is None:
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or x-api-key)")
    item = components.api_keys().find(key)
    if item is None:
        raise Unauthorized("the API key is not valid")
    if "revoked_at" in item:
        raise Unauthorized("the API key was revoked")
    if item["org_id"] != org_id:
        raise NotFound("org", org_id)
    limit = item.get("workflows")
    who = Caller(
        org_id,
        item["name"],
        list(item["scopes"]),
        item.get("id"),
        frozenset(limit) if limit is not None else None,
    )
    extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    who.require(declared_scope(request.method, extra))
    if who.workflows is not None and WORKFLOW_LIMITED not in extra:
        raise Forbidden("this API key is limited to named workflows; this route is not open to it")
    return who


def caller_org(who: Annotated[Caller, Depends(caller)]) -> str:
    return who.org_id


def get_catalog() -> "Catalog":
    return components.catalog()


Org = Annotated[str, Depends(caller_org)]
CallerDep = Annotated[Caller, Depends(caller)]
StoreDep = Annotated[Store, Depends(get_store)]
CatalogDep = Annotated["Catalog", Depends(get_catalog)]


def clear_caches() -> None:
    """Forget the cursor secret (tests and the local stack start fresh backends)."""
    _codec.cache_clear()
    hmac_keys.clear()
    idempotency.clear()
