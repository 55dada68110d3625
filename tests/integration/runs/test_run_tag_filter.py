"""GET /runs?tag=key=value: runs keyed by tag (never a scan of the org's runs), paged like every
other filter, following tag changes, and never another org's runs."""

import json
from urllib.parse import quote

import pytest

from bench.meter import Meter
from stepwise import components
from stepwise.infra import dynamo, keys
from tests.conftest import OTHER_KEY
from tests.helpers import DEFAULT_KEY, http_event

WORKFLOW = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": 1}]}


def call(stack, method, path, body=None, query="", key=DEFAULT_KEY, org="acme"):
    event = http_event(method, f"/v1/orgs/{org}{path}", body, key, query=query)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def external(stack, tags, run_id=None, key=DEFAULT_KEY, org="acme"):
    body = {"workflow_id": "etl", "tags": tags, **({"id": run_id} if run_id else {})}
    status, payload = call(stack, "POST", "/runs/external", body, key=key, org=org)
    assert status == 201, payload
    return payload["data"]["id"]


def tagged(stack, *tags, extra="", key=DEFAULT_KEY, org="acme"):
    query = "&".join(f"tag={quote(t)}" for t in tags) + extra
    status, payload = call(stack, "GET", "/runs", query=query, key=key, org=org)
    assert status == 200, payload
    return payload


def ids(page):
    return [r["id"] for r in page["data"]]


def test_a_tag_lists_the_runs_that_carry_it_newest_first(stack):
    web = [external(stack, {"team": "web", "env": "prod"}) for _ in range(3)]
    ops = external(stack, {"team": "ops", "env": "prod"})
    external(stack, {})
    assert ids(tagged(stack, "team=web")) == web[::-1]
    assert ids(tagged(stack, "env=prod")) == [ops, *web[::-1]]
    assert ids(tagged(stack, "team=ops", "env=prod")) == [ops]  # every tag must match
    assert ids(tagged(stack, "team=web", "env=dev")) == []
    assert tagged(stack, "team=web")["total"] is None  # no counter keeps it


def test_tag_changes_move_a_run_in_and_out_of_the_filter(stack):
    run_id = external(stack, {"team": "web"})
    assert call(stack, "PUT", f"/runs/{run_id}", {"tags": {"team": "ops"}})[0] == 200
    assert ids(tagged(stack, "team=web")) == [] and ids(tagged(stack, "team=ops")) == [run_id]
    tags = {"team": "ops", "a": "1", "z": "9"}  # "a" sorts first: every slot moves
    assert call(stack, "PUT", f"/runs/{run_id}", {"tags": tags})[0] == 200
    assert [ids(tagged(stack, f"{k}={v}")) for k, v in tags.items()] == [[run_id]] * 3
    assert call(stack, "PUT", f"/runs/{run_id}", {"tags": {"z": "9"}})[0] == 200
    assert ids(tagged(stack, "team=ops")) == [] and ids(tagged(stack, "a=1")) == []
    assert ids(tagged(stack, "z=9")) == [run_id] and len(_tag_items(run_id)) == 1
    assert call(stack, "PUT", f"/runs/{run_id}", {"phase": "succeeded"})[0] == 200
    assert ids(tagged(stack, "z=9", extra="&status=succeeded")) == [run_id]
    assert ids(tagged(stack, "z=9", extra="&status=running")) == []
    assert call(stack, "DELETE", f"/runs/{run_id}")[0] == 204
    assert ids(tagged(stack, "z=9")) == []
    assert _tag_items(run_id) == []  # the delete took the index with it


def test_a_tag_change_from_a_stale_read_is_refused(stack):
    """Tags and their index move together: a writer that read the old tags cannot win."""
    run_id = external(stack, {"team": "web"})
    store = components.store()
    stale = store.runs.get_run("acme", run_id)
    assert call(stack, "PUT", f"/runs/{run_id}", {"tags": {"team": "ops"}})[0] == 200
    assert not store.runs.update_run("acme", stale, {"tags": {"team": "data"}})
    assert ids(tagged(stack, "team=ops")) == [run_id] and ids(tagged(stack, "team=data")) == []


def test_an_engine_run_takes_tags_and_is_found_by_them(stack):
    workflow_id = call(stack, "POST", "/workflows", WORKFLOW)[1]["data"]["id"]
    run_id = call(stack, "POST", "/runs", {"workflow_id": workflow_id})[1]["data"]["id"]
    status, payload = call(stack, "PUT", f"/runs/{run_id}", {"tags": {"release": "v1.2"}})
    assert status == 200 and payload["data"]["tags"] == {"release": "v1.2"}
    page = tagged(stack, "release=v1.2", extra=f"&workflow_id={workflow_id}")
    assert ids(page) == [run_id] and page["data"][0]["workflow_id"] == workflow_id
    assert ids(tagged(stack, "release=v1.2", extra="&workflow_id=etl")) == []


def test_paging_by_tag_goes_both_ways_and_repeats_pages(stack):
    runs = [external(stack, {"batch": "b1"}) for _ in range(7)]
    for n in range(5):  # runs without the tag, between and after: never on a page
        external(stack, {"batch": f"other{n}"})
    forwards, page = [], tagged(stack, "batch=b1", extra="&limit=3")
    while True:
        forwards += ids(page)
        if page["next_page"] is None:
            break
        last = page
        page = tagged(stack, "batch=b1", extra=f"&limit=3&cursor={page['next_page']}")
    assert forwards == runs[::-1]
    repeated = tagged(stack, "batch=b1", extra=f"&limit=3&cursor={last['current_page']}")
    assert ids(repeated) == ids(last) == runs[3:0:-1]
    backwards = tagged(stack, "batch=b1", extra=f"&limit=3&cursor={page['previous_page']}")
    assert ids(backwards) == ids(last)
    # A cursor is bound to its tag: another tag's list refuses it.
    status, payload = call(
        stack, "GET", "/runs", query=f"tag=batch%3Dother1&limit=3&cursor={last['next_page']}"
    )
    assert status == 400 and payload["errors"][0]["code"] == "invalid_cursor"


def test_another_orgs_runs_never_appear(stack):
    mine = external(stack, {"team": "web"}, run_id="shared-id")
    theirs = external(stack, {"team": "web"}, run_id="shared-id", key=OTHER_KEY, org="globex")
    assert theirs == mine  # the same id in two orgs
    external(stack, {"team": "web"}, key=OTHER_KEY, org="globex")
    assert len(tagged(stack, "team=web", key=OTHER_KEY, org="globex")["data"]) == 2
    [run] = tagged(stack, "team=web")["data"]
    assert (run["id"], run["org_id"]) == (mine, "acme")


def test_a_page_by_tag_reads_only_its_own_runs(stack):
    """Keyed by tag: the reads follow the page, not the org's runs or the tag's popularity."""
    for _ in range(40):
        external(stack, {"team": "ops"})
    wanted = [external(stack, {"team": "web"}) for _ in range(3)]
    with Meter() as meter:
        page = tagged(stack, "team=web", extra="&limit=2")
    assert ids(page) == wanted[:0:-1]
    calls = meter.snapshot().calls
    assert calls["dynamodb:Query"] == 1 and calls["dynamodb:BatchGetItem"] == 1
    assert "dynamodb:Scan" not in calls


@pytest.mark.parametrize(
    "tag", ["team", "=web", "team=a#b", "team=a\nb", "k" * 129 + "=v", "team=" + "v" * 257]
)
def test_a_malformed_tag_filter_is_422_naming_it(stack, tag):
    status, payload = call(stack, "GET", "/runs", query=f"tag={quote(tag)}")
    assert status == 422
    [error] = payload["detail"]
    assert error["loc"] == ["query", "tag"] and tag.split("=")[0][:10] in error["msg"]


def test_too_many_tag_filters_are_422(stack):
    query = "&".join(f"tag=k{n}%3Dv" for n in range(11))
    status, payload = call(stack, "GET", "/runs", query=query)
    assert status == 422 and payload["detail"][0]["loc"][:2] == ["query", "tag"]


def _tag_items(run_id):
    items = dynamo.query_partition(components.store().table, keys.run_pk("acme", run_id))
    return [i for i in items if i["SK"].startswith(keys.RUN_TAG_PREFIX)]
