"""Under ``pytest -n`` the IAM check still sees every process's calls, and sessions running at
once keep their recordings apart (tests/iam/recordings.py)."""

import os
import subprocess
import sys
import textwrap

from stepwise_local import call_log
from stepwise_local.template import REPO_ROOT
from tests.iam import recordings

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/stepwise-local-StepwiseTable"
TRIGGER = "arn:aws:lambda:us-east-1:123456789012:function:stepwise-local-TriggerFunction"

# Three test files, each recording one call as a handler would: whichever worker runs each, the
# controller must judge all three, and the refused one must fail the session although every
# test passed and no IAM test ran.
RECORDS = {
    "test_engine.py": ("EngineFunction", "dynamodb:UpdateItem", TABLE),
    "test_scheduler.py": ("SchedulerRole", "lambda:InvokeFunction", TRIGGER),
    "test_scheduler_writes.py": ("SchedulerRole", "dynamodb:PutItem", TABLE),  # never granted
}


def _test_file(principal: str, action: str, resource: str) -> str:
    return textwrap.dedent(
        f"""
        from stepwise_local import call_log

        def test_records_a_call():
            service, operation = {action!r}.split(":")
            call_log.LOG.requests.add(
                call_log.Request({principal!r}, service, operation, {action!r}, {resource!r})
            )
        """
    )


def test_the_controller_fails_the_session_on_a_call_any_worker_recorded(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "conftest.py").write_text(
        "from tests.iam.recordings import (\n"
        "    pytest_configure, pytest_configure_node, pytest_sessionfinish,\n"
        "    pytest_terminal_summary,\n"
        ")\n"
    )
    for name, record in RECORDS.items():
        (suite / name).write_text(_test_file(*record))
    iam_dir = tmp_path / "iam"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers/core")]),
        "STEPWISE_IAM_DIR": str(iam_dir),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-p", "no:cacheprovider"],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "3 passed" in out, out
    assert done.returncode == 1, out
    assert "IAM: calls the deployed roles would refuse" in out
    assert "REFUSED SchedulerRole: dynamodb:PutItem" in out
    [run] = iam_dir.glob("run-*")
    report = (run / "iam-report.txt").read_text()
    assert report.startswith("IAM check of recorded calls: 2 allowed, 1 refused"), report
    workers = sorted(run.glob("calls-gw*.jsonl"))
    assert {r.principal for f in workers for r in call_log.read(f)} == {
        principal for principal, _, _ in RECORDS.values()
    }


def test_a_new_session_clears_only_the_directories_of_ended_sessions(tmp_path):
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = int(ended.stdout)
    live = os.getppid()  # the process that started this one is still running
    for pid in (dead, live):
        (tmp_path / f"run-{pid}").mkdir()
        (tmp_path / f"run-{pid}" / "calls-gw0.jsonl").write_text("")
    (tmp_path / "iam-report.txt").write_text("kept")  # what older versions wrote: not ours

    mine = recordings.new_run_dir(tmp_path, os.getpid())

    assert mine == tmp_path / f"run-{os.getpid()}" and list(mine.iterdir()) == []
    assert (tmp_path / f"run-{live}" / "calls-gw0.jsonl").exists()
    assert not (tmp_path / f"run-{dead}").exists()
    assert (tmp_path / "iam-report.txt").read_text() == "kept"
