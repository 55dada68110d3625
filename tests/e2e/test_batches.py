"""A batch over HTTP: its runs start in the background, execute for real, and are counted."""

import time

from tests.e2e.conftest import create_workflow, wait_for_run
from tests.helpers import diamond


def test_a_batch_of_twenty_runs_all_succeed_and_are_counted(api):
    workflow_id = create_workflow(api, diamond())
    response = api.post(
        "/batches", json={"workflow_id": workflow_id, "inputs": [{"n": n} for n in range(20)]}
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["data"]["id"]
    assert response.json()["data"]["status"] == "starting"

    deadline = time.monotonic() + 90
    while True:
        batch = api.get(f"/batches/{batch_id}").json()["data"]
        if batch["settled"]:
            break
        assert time.monotonic() < deadline, batch
        time.sleep(0.2)
    assert (batch["status"], batch["total"], batch["runs"]) == ("started", 20, 20)
    assert batch["counts"] == {
        "queued": 0,
        "running": 0,
        "paused": 0,
        "succeeded": 20,
        "failed": 0,
        "cancelled": 0,
        "timed_out": 0,
    }
    listed = api.get("/runs", params={"batch_id": batch_id, "limit": 100}).json()
    assert listed["total"] == 20 and len(listed["data"]) == 20
    assert {r["status"] for r in listed["data"]} == {"succeeded"}
    # Input i went to run i, and each computed its own output.
    run = wait_for_run(api, f"{listed['data'][0]['id']}")
    n = int(run["id"].rsplit(".", 1)[1])
    assert run["input"] == {"n": n} and run["batch_id"] == batch_id
    assert run["output"]["d"]["from_b"] == [n, n]
