"""The console in a real browser (Debian's headless Chromium, driven by Playwright) against the
local stack: sign in, the runs table, a run's graph changing live, approve, cancel, redrive,
rerun from a node, starting a run from a workflow, a wrong key, and another org's run never shown.

Without /usr/bin/chromium the tests skip, saying so; under CI (``CI`` set, or
``STEPWISE_BROWSER_TESTS=required``, which .ci/run sets) they fail instead, so the browser
checks never silently stop running there."""

import json
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from stepwise_local.stack import DEFAULT_ORG
from tests.conftest import OTHER_KEY, OTHER_ORG
from tests.e2e.conftest import create_workflow, wait_for_run

CHROMIUM = os.environ.get("STEPWISE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") or os.environ.get("STEPWISE_BROWSER_TESTS") == "required":
            pytest.fail(f"CI must run the console's browser tests: {reason}")
        pytest.skip(reason)
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, local_stack):
    context = browser.new_context(
        base_url=local_stack.base_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    tab.console_errors = []
    tab.on("pageerror", lambda error: tab.console_errors.append(str(error)))
    yield tab
    context.close()
    assert tab.console_errors == []


def sign_in(page, org, key):
    page.goto("/console")
    page.fill('[data-test="org"]', org)
    page.fill('[data-test="api-key"]', key)
    page.click('[data-test="sign-in"]')


def confirm(page):
    page.click('[data-test="confirm-yes"]')


@pytest.fixture
def console_key(api):
    """A key that may write and approve, and starts none of the runs it reviews."""
    made = api.post("/keys", json={"name": "console", "scopes": ["write", "approve"]})
    assert made.status_code == 201, made.text
    return made.json()["data"]["key"]


def start(api, workflow_id, run_input=None) -> str:
    made = api.post("/runs", json={"workflow_id": workflow_id, "input": run_input or {}})
    assert made.status_code == 201, made.text
    return made.json()["data"]["id"]


GATED = {
    "name": "console-gated",
    "nodes": [
        {"ref": "gate", "kind": "approval"},
        {"ref": "after", "kind": "transform", "depends_on": ["gate"], "args": {"ok": True}},
        {"ref": "on_reject", "kind": "transform", "depends_on": ["gate.error"], "args": {"r": 1}},
    ],
}


def test_approving_in_the_console_moves_the_graph_live(page, api, console_key, tmp_path):
    run_id = start(api, create_workflow(api, GATED))
    sign_in(page, DEFAULT_ORG, console_key)
    row = page.locator(f'tr[data-run-id="{run_id}"]')
    row.wait_for()
    assert row.get_attribute("data-status") in ("queued", "running")
    row.click()

    gate = page.locator('[data-node-ref="gate"]')
    page.wait_for_selector('[data-node-ref="gate"][data-status="running"]')
    assert page.locator('[data-node-ref="after"]').get_attribute("data-status") == "pending"
    # Success and error edges are drawn apart.
    assert page.locator('[data-edge="gate->after"]').get_attribute("data-on") == "success"
    assert page.locator('[data-edge="gate->on_reject"]').get_attribute("data-on") == "error"
    assert "edge-error" in page.locator('[data-edge="gate->on_reject"]').get_attribute("class")

    gate.click()
    page.fill('[data-test="review-comment"]', "ship it")
    page.click('[data-test="approve"]')
    confirm(page)
    # The node changes state in the open page: no reload, the page polls.
    page.wait_for_selector('[data-node-ref="gate"][data-status="succeeded"]')
    page.wait_for_selector('[data-node-ref="after"][data-status="succeeded"]')
    page.wait_for_selector('[data-test="run-status"][data-status="succeeded"]')
    assert page.locator('[data-node-ref="on_reject"]').get_attribute("data-status") == "skipped"
    review = json.loads(page.locator('[data-test="node-review"]').inner_text())
    assert review["decision"] == "approve" and review["comment"] == "ship it"
    assert "#/runs/" in page.url and console_key not in page.url

    shot = tmp_path / "console-run.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"console screenshot: {shot}")
    assert api.get(f"/runs/{run_id}").json()["data"]["status"] == "succeeded"


def test_cancelling_in_the_console_stops_the_run(page, api, console_key):
    run_id = start(api, create_workflow(api, GATED))
    sign_in(page, DEFAULT_ORG, console_key)
    page.wait_for_selector('[data-test="signed-in-org"]')
    calls = []
    page.on("request", lambda r: calls.append(r.url.split("?")[0]) if "/v1/" in r.url else None)
    page.goto(f"/console#/runs/{run_id}")
    page.wait_for_selector('[data-node-ref="gate"][data-status="running"]')
    for _ in range(3):  # the page polls the run while it goes ...
        with page.expect_request(lambda r: r.url.endswith(f"/runs/{run_id}")):
            pass
    # ... and reads its pinned workflow version once, not on every poll.
    assert sum("/workflows/" in url for url in calls) == 1
    assert page.locator('[data-test="redrive"]').count() == 0  # not for a running run
    page.click('[data-test="cancel"]')
    page.click('[data-test="confirm-no"]')  # backing out changes nothing
    assert api.get(f"/runs/{run_id}").json()["data"]["status"] == "running"
    page.click('[data-test="cancel"]')
    confirm(page)
    page.wait_for_selector('[data-test="run-status"][data-status="cancelled"]')
    page.wait_for_selector('[data-node-ref="gate"][data-status="cancelled"]')
    assert page.locator('[data-test="cancel"]').count() == 0
    assert wait_for_run(api, run_id)["status"] == "cancelled"


def test_pausing_holds_the_next_node_and_resuming_runs_it(page, api, console_key):
    run_id = start(api, create_workflow(api, GATED))
    sign_in(page, DEFAULT_ORG, console_key)
    page.wait_for_selector('[data-test="signed-in-org"]')
    page.goto(f"/console#/runs/{run_id}")
    page.wait_for_selector('[data-node-ref="gate"][data-status="running"]')
    assert page.locator('[data-test="resume"]').count() == 0  # not for a running run
    page.click('[data-test="pause"]')
    confirm(page)
    page.wait_for_selector('[data-test="run-status"][data-status="paused"]')
    assert api.get(f"/runs/{run_id}").json()["data"]["status"] == "paused"
    assert page.locator('[data-test="pause"]').count() == 0

    # The review lands while paused: the gate succeeds in the page, the next node is held.
    page.click('[data-node-ref="gate"]')
    page.click('[data-test="approve"]')
    confirm(page)
    page.wait_for_selector('[data-node-ref="gate"][data-status="succeeded"]')
    assert page.locator('[data-node-ref="after"]').get_attribute("data-status") == "pending"
    assert page.locator('[data-test="run-status"]').get_attribute("data-status") == "paused"

    page.click('[data-test="resume"]')
    confirm(page)
    page.wait_for_selector('[data-node-ref="after"][data-status="succeeded"]')
    page.wait_for_selector('[data-test="run-status"][data-status="succeeded"]')
    assert wait_for_run(api, run_id)["status"] == "succeeded"


REVIEWED = {
    "name": "console-reviewed",
    "nodes": [
        {"ref": "first", "kind": "transform", "args": {"n": 1}},
        {"ref": "gate", "kind": "approval", "depends_on": ["first"]},
        {"ref": "after", "kind": "transform", "depends_on": ["gate"], "args": {"ok": True}},
    ],
}


def rejected_run(api, approver_api) -> str:
    """A run of REVIEWED whose gate was rejected: failed at gate, first succeeded."""
    run_id = start(api, create_workflow(api, REVIEWED))
    wait_for_review(api, run_id)
    decision = {"decision": "reject", "comment": "not yet"}
    answer = approver_api.post(f"/runs/{run_id}/nodes/gate/approval", json=decision)
    assert answer.status_code == 202, answer.text
    run = wait_for_run(api, run_id)
    assert run["status"] == "failed" and run["error"]["node"] == "gate"
    return run_id


def wait_for_review(api, run_id):
    deadline = time.monotonic() + WAIT_MS / 1000
    while api.get(f"/runs/{run_id}/nodes/gate").json()["data"]["status"] != "running":
        assert time.monotonic() < deadline, "the gate never waited for its review"
        time.sleep(0.05)


def test_redriving_a_failed_run_in_the_page_runs_it_again_and_keeps_what_succeeded(
    page, api, console_key, approver_api
):
    run_id = rejected_run(api, approver_api)
    sign_in(page, DEFAULT_ORG, console_key)
    page.wait_for_selector('[data-test="signed-in-org"]')
    page.goto(f"/console#/runs/{run_id}")
    page.wait_for_selector('[data-node-ref="gate"][data-status="failed"]')
    assert page.locator('[data-node-ref="after"]').get_attribute("data-status") == "cancelled"
    assert page.locator('[data-test="redrives"]').count() == 0
    # Whatever the page shows from now on, first must never leave succeeded.
    page.evaluate(
        """() => { window.firstStatuses = [];
            const note = () => { const n = document.querySelector('[data-node-ref="first"]');
                if (n) window.firstStatuses.push(n.dataset.status); };
            new MutationObserver(note).observe(document.body,
                {subtree: true, childList: true, attributes: true});
            note(); }"""
    )
    page.click('[data-test="redrive"]')
    confirm(page)
    page.wait_for_selector('[data-test="flash"]:has-text("Redrive: done")')
    # The run goes again in the open page: running, with the gate waiting for a new review.
    page.wait_for_selector('[data-test="run-status"][data-status="running"]')
    page.wait_for_selector('[data-node-ref="gate"][data-status="running"]')
    assert "once" in page.locator('[data-test="redrives"]').inner_text()
    assert page.locator('[data-test="redrive"]').count() == 0  # not for a running run

    answer = approver_api.post(f"/runs/{run_id}/nodes/gate/approval", json={"decision": "approve"})
    assert answer.status_code == 202, answer.text
    page.wait_for_selector('[data-test="run-status"][data-status="succeeded"]')
    page.wait_for_selector('[data-node-ref="after"][data-status="succeeded"]')
    assert set(page.evaluate("() => window.firstStatuses")) == {"succeeded"}
    run = api.get(f"/runs/{run_id}").json()["data"]
    attempts = {n["ref"]: [a["attempt"] for a in n["attempts"]] for n in run["nodes"]}
    assert attempts == {"first": [1], "gate": [1, 2], "after": [1]}
    assert run["redrive_count"] == 1


def test_a_redrive_made_elsewhere_first_is_refused_and_the_page_catches_up(
    page, api, console_key, approver_api
):
    run_id = rejected_run(api, approver_api)
    sign_in(page, DEFAULT_ORG, console_key)
    page.wait_for_selector('[data-test="signed-in-org"]')
    page.goto(f"/console#/runs/{run_id}")
    page.wait_for_selector('[data-test="run-status"][data-status="failed"]')
    # The page stopped polling when the run ended; the run is redriven from elsewhere.
    assert api.post(f"/runs/{run_id}/redrive", json={}).status_code == 202
    wait_for_review(api, run_id)
    page.click('[data-test="redrive"]')
    confirm(page)
    flash = page.locator('[data-test="flash"]:has-text("Redrive refused")')
    flash.wait_for()
    assert "the run is running" in flash.inner_text()
    page.wait_for_selector('[data-test="run-status"][data-status="running"]')
    page.wait_for_selector('[data-node-ref="gate"][data-status="running"]')
    assert api.get(f"/runs/{run_id}").json()["data"]["redrive_count"] == 1  # one redrive only
    assert api.post(f"/runs/{run_id}/cancel", json={}).status_code == 202
    page.wait_for_selector('[data-test="run-status"][data-status="cancelled"]')


def test_rerunning_from_a_node_opens_the_new_run(page, api, console_key):
    diamond = json.loads(
        (Path(__file__).resolve().parents[2] / "examples/diamond.json").read_text()
    )
    old = wait_for_run(api, start(api, create_workflow(api, diamond), {"name": "ada", "n": 2}))
    assert old["status"] == "succeeded"
    sign_in(page, DEFAULT_ORG, console_key)
    page.wait_for_selector('[data-test="signed-in-org"]')
    page.goto(f"/console#/runs/{old['id']}")
    page.wait_for_selector('[data-node-ref="c"][data-status="succeeded"]')
    assert page.locator('[data-test="redrive"]').count() == 0  # a succeeded run is rerun
    page.click('[data-node-ref="c"]')
    page.click('[data-test="rerun"]')
    confirm(page)
    page.wait_for_function(  # the page opens the new run
        "old => location.hash.startsWith('#/runs/run_') && location.hash !== `#/runs/${old}`",
        arg=old["id"],
    )
    new_id = page.evaluate("() => location.hash").removeprefix("#/runs/")
    page.wait_for_selector('[data-test="run-status"][data-status="succeeded"]')
    assert page.locator('[data-test="rerun-of"]').inner_text() == old["id"]
    assert page.locator("[data-node-ref]").count() == 4
    assert page.locator('[data-node-ref][data-status="succeeded"]').count() == 4
    new = wait_for_run(api, new_id)
    assert new["rerun_of"] == old["id"] and new["output"] == old["output"]

    page.click('[data-test="rerun-of"]')  # back to the old run, which lists its rerun
    page.wait_for_selector(f'[data-test="reruns"] a[href="#/runs/{new_id}"]')
    assert page.locator('[data-test="run-status"]').get_attribute("data-status") == "succeeded"


def test_the_runs_table_filters_and_pages_both_ways(page, api, console_key):
    workflow_id = create_workflow(
        api, {"name": "console-list", "nodes": [{"ref": "a", "kind": "transform"}]}
    )
    runs = [start(api, workflow_id, {"i": i}) for i in range(3)]
    for run_id in runs:
        wait_for_run(api, run_id)
    sign_in(page, DEFAULT_ORG, console_key)
    page.wait_for_selector('[data-test="signed-in-org"]')
    page.goto(f"/console#/runs?workflow_id={workflow_id}&limit=2")
    newest = list(reversed(runs))

    def shown():
        page.wait_for_selector("tr[data-run-id]")
        return page.locator("tr[data-run-id]").evaluate_all(
            "rows => rows.map(r => [r.dataset.runId, r.dataset.status])"
        )

    assert shown() == [[r, "succeeded"] for r in newest[:2]]
    assert page.locator('[data-test="runs-total"]').inner_text() == "3 in all"
    page.click('[data-test="page-older"]')
    page.wait_for_selector(f'tr[data-run-id="{newest[2]}"]')
    assert shown() == [[newest[2], "succeeded"]]
    page.click('[data-test="page-newer"]')
    page.wait_for_selector(f'tr[data-run-id="{newest[0]}"]')
    assert shown() == [[r, "succeeded"] for r in newest[:2]]

    page.select_option('[data-test="filter-status"]', "failed")
    page.click('[data-test="filter-apply"]')
    page.wait_for_selector(".empty")
    assert page.locator("tr[data-run-id]").count() == 0


def test_a_workflow_is_drawn_and_started_with_its_input_checked(page, api, console_key):
    diamond = json.loads(
        (Path(__file__).resolve().parents[2] / "examples/diamond.json").read_text()
    )
    workflow_id = create_workflow(api, diamond)
    sign_in(page, DEFAULT_ORG, console_key)
    page.click("text=Workflows")
    page.click(f'tr[data-workflow-id="{workflow_id}"]')
    page.wait_for_selector('[data-node-ref="d"]')
    assert sorted(
        page.locator("[data-node-ref]").evaluate_all("ns => ns.map(n => n.dataset.nodeRef)")
    ) == ["a", "b", "c", "d"]

    page.fill('[data-test="run-input"]', '{"name": ')
    page.click('[data-test="start-run"]')
    error = page.locator('[data-test="start-error"]')
    error.wait_for()
    assert error.get_attribute("data-field") == "input" and "not valid JSON" in error.inner_text()

    deep = "x"
    for _ in range(40):
        deep = {"a": deep}
    page.fill('[data-test="run-input"]', json.dumps(deep))
    page.click('[data-test="start-run"]')
    page.wait_for_selector('[data-test="start-error"][data-field="input"]')

    page.fill('[data-test="run-input"]', '{"name": "ada", "n": 2}')
    page.click('[data-test="start-run"]')
    page.wait_for_selector('[data-test="run-status"][data-status="succeeded"]')
    assert page.locator('[data-node-ref][data-status="succeeded"]').count() == 4


def test_a_wrong_key_is_told_and_kept_nowhere(page):
    sign_in(page, DEFAULT_ORG, "swk_not_a_key")
    message = page.locator('[data-test="sign-in-error"]')
    message.wait_for()
    assert "Wrong API key" in message.inner_text()
    assert page.evaluate("() => Object.keys(sessionStorage)") == []
    assert "swk_not_a_key" not in page.url
    sign_in(page, DEFAULT_ORG, OTHER_KEY)  # a real key of another org
    page.wait_for_selector('[data-test="sign-in-error"]:has-text("does not belong")')


def test_another_orgs_run_is_never_shown(page, api, local_stack):
    run_id = start(api, create_workflow(api, GATED))
    sign_in(page, OTHER_ORG, OTHER_KEY)
    page.wait_for_selector('[data-test="signed-in-org"]')
    assert page.locator(f'tr[data-run-id="{run_id}"]').count() == 0
    page.goto(f"/console#/runs/{run_id}")
    page.wait_for_selector('[data-test="run-error"]')
    assert "not found (404)" in page.locator('[data-test="run-error"]').inner_text()
    assert page.locator("[data-node-ref]").count() == 0
    assert api.post(f"/runs/{run_id}/cancel", json={}).status_code == 202


def test_the_key_never_reaches_a_url_or_the_page_request(page, console_key, local_stack):
    requests = []
    page.on("request", lambda request: requests.append(request))
    sign_in(page, DEFAULT_ORG, console_key)
    page.wait_for_selector('[data-test="signed-in-org"]')
    assert all(console_key not in r.url for r in requests)
    api_calls = [r for r in requests if "/v1/orgs/" in r.url]
    assert api_calls and all(
        r.headers.get("authorization") == f"Bearer {console_key}" for r in api_calls
    )
    assert all("authorization" not in r.headers for r in requests if "/console" in r.url)
    page_answer = httpx.get(f"{local_stack.base_url}/console", headers={"accept-encoding": "gzip"})
    assert page_answer.headers["content-encoding"] == "gzip"


def test_a_key_revoked_while_signed_in_signs_the_tab_out(page, api):
    made = api.post("/keys", json={"name": "short-lived", "scopes": ["read"]})
    assert made.status_code == 201, made.text
    key = made.json()["data"]
    sign_in(page, DEFAULT_ORG, key["key"])
    page.wait_for_selector('[data-test="signed-in-org"]')
    assert api.delete(f"/keys/{key['id']}").status_code < 300
    page.click("text=Workflows")
    page.wait_for_selector('[data-test="sign-in-error"]:has-text("refused the key (401)")')
    assert page.evaluate("() => Object.keys(sessionStorage)") == []
