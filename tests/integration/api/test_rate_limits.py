"""Per-org API rate limits (issue 14 row 7): one org over its limit gets 429 while another org is
served, and what is not an org's API traffic (signal callbacks, other keys, no key) never spends
an org's budget. Through the API function, as API Gateway invokes it."""

import json

import pytest

from stepwise.api import rate_limits
from tests.conftest import OTHER_KEY, OTHER_ORG
from tests.helpers import DEFAULT_KEY, http_event

pytestmark = pytest.mark.attack  # issue 14: make audit runs it

LIMIT = 3
SECOND = 1_900_000_000.25


@pytest.fixture
def limited(stack, monkeypatch):
    """The stack with a per-org limit of LIMIT a second, all requests in one second."""
    monkeypatch.setenv(rate_limits.LIMIT_ENV, str(LIMIT))
    clock = {"now": SECOND}
    monkeypatch.setattr(rate_limits.time, "time", lambda: clock["now"])
    return clock


def get(stack, org, key, path="/runs"):
    response = stack.invoke("ApiFunction", http_event("GET", f"/v1/orgs/{org}{path}", None, key))
    body = json.loads(response["body"]) if response["body"] else None
    return response["statusCode"], response.get("headers", {}), body


def signal(stack, token, key=None):
    body = {"signal": "success", "result": {}}
    event = http_event("POST", f"/v1/signals/{token}", body, key)
    return stack.invoke("ApiFunction", event)["statusCode"]


def test_an_org_over_its_limit_gets_429_while_another_org_is_served(stack, limited):
    assert [get(stack, "acme", DEFAULT_KEY)[0] for _ in range(LIMIT)] == [200] * LIMIT
    status, headers, body = get(stack, "acme", DEFAULT_KEY)
    assert status == 429
    assert headers["retry-after"] == "1"
    [error] = body["errors"]
    assert error["code"] == "rate_limited"
    assert f"{LIMIT} requests per second" in error["message"]
    assert rate_limits.PARAMETER in error["message"]
    assert get(stack, OTHER_ORG, OTHER_KEY)[0] == 200  # the same second, another org
    limited["now"] += 1  # the next second: served again
    assert get(stack, "acme", DEFAULT_KEY)[0] == 200


def test_signal_callbacks_are_not_counted_against_the_org_api_limit(stack, limited):
    # Even a callback that carries the org's key (a destination may send any header).
    for key in (None, DEFAULT_KEY) * LIMIT:
        assert signal(stack, "forged.token.value", key) == 401
    assert [get(stack, "acme", DEFAULT_KEY)[0] for _ in range(LIMIT)] == [200] * LIMIT
    assert get(stack, "acme", DEFAULT_KEY)[0] == 429
    assert signal(stack, "forged.token.value", DEFAULT_KEY) == 401  # callbacks still reach it


def test_no_key_or_another_orgs_key_spends_nothing_of_an_orgs_budget(stack, limited):
    """A request is counted against its key's org: nobody can use up acme's budget by naming
    acme in a path without acme's key."""
    for _ in range(LIMIT + 1):
        assert get(stack, "acme", None)[0] == 401
        assert get(stack, "acme", "swk_not_a_key")[0] == 401
    assert [get(stack, "acme", OTHER_KEY)[0] for _ in range(LIMIT)] == [404] * LIMIT
    assert get(stack, "acme", OTHER_KEY)[0] == 429  # globex's own budget is spent
    assert [get(stack, "acme", DEFAULT_KEY)[0] for _ in range(LIMIT)] == [200] * LIMIT


def test_health_and_unlimited_stacks_are_never_limited(stack, limited, monkeypatch):
    for _ in range(LIMIT + 1):
        response = stack.invoke("ApiFunction", http_event("GET", "/healthz", None, DEFAULT_KEY))
        assert response["statusCode"] == 200
    monkeypatch.setenv(rate_limits.LIMIT_ENV, "0")
    assert {get(stack, "acme", DEFAULT_KEY)[0] for _ in range(LIMIT + 1)} == {200}


def test_a_revoked_key_spends_nothing_of_its_orgs_budget(stack, limited, monkeypatch):
    """Before: the limiter counted any key the table knew, revoked ones too (and a warm
    function remembered a key's org for good), so whoever kept a revoked key could flood with
    it and starve the org's live keys with 429s."""
    from stepwise import components

    made = components.api_keys()
    made.store("swk_test_leaked", "acme", "leaked", ["read"], "test")
    assert get(stack, "acme", "swk_test_leaked")[0] == 200  # counted while live: 1 of LIMIT
    [key] = [k for k in made.list("acme", 100, None)[0] if k["name"] == "leaked"]
    made.revoke("acme", key["id"])
    later = rate_limits.time.monotonic() + 3600  # an hour on: past any cached entry
    monkeypatch.setattr(rate_limits.time, "monotonic", lambda: later)  # past the cached entry
    for _ in range(LIMIT * 2):
        assert get(stack, "acme", "swk_test_leaked")[0] == 401
    assert [get(stack, "acme", DEFAULT_KEY)[0] for _ in range(LIMIT - 1)] == [200] * (LIMIT - 1)
    assert get(stack, "acme", DEFAULT_KEY)[0] == 429  # the live key's own requests, no more
