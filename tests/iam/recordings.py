"""Where a pytest session keeps its IAM recordings, and the check of their union under xdist.

Every process records the AWS calls of the stacks it runs (``stepwise_local.call_log``) and
writes them at its end as ``calls-<worker>.jsonl`` (``calls-main.jsonl`` without xdist) into
the session's own directory, ``$STEPWISE_IAM_DIR/run-<pid of the controller>``: two sessions
at once (two checkouts, two engineers, CI) never read or delete each other's recordings. The
controller hands its directory to the workers through xdist's ``workerinput``.

``tests/iam/test_recorded_calls.py`` sees only the calls of its own process. Under
``pytest -n`` it runs on one worker while the other worker's tests may still be running, so the
controller checks the union of the workers' recordings once they have all finished, and fails
the session (with the refused calls in the terminal summary) if a deployed role would refuse
any of them. tests/conftest.py imports these hooks.
"""

import os
import shutil
from pathlib import Path

import pytest

from stepwise_local import call_log
from tests.iam import policies

RUN_DIR = pytest.StashKey[Path]()
REFUSED = pytest.StashKey[str]()
WORKERINPUT_KEY = "stepwise_iam_run_dir"


def worker(config: pytest.Config) -> str | None:
    """The xdist worker id (``gw0``...) of this process; None for the controller or no xdist."""
    return getattr(config, "workerinput", {}).get("workerid")


def distributed(config: pytest.Config) -> bool:
    """This process is the controller of an xdist session (``-n 0`` and no xdist are not)."""
    return worker(config) is None and config.getoption("dist", "no") != "no"


def run_dir(config: pytest.Config) -> Path:
    return config.stash[RUN_DIR]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def new_run_dir(base: Path, pid: int) -> Path:
    """``base/run-<pid>``, empty; the directories of sessions whose process has ended go (a
    live session's stay: it may still be writing or reading them)."""
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob("run-*"):
        number = old.name.removeprefix("run-")
        if number.isdigit() and int(number) != pid and not _alive(int(number)):
            shutil.rmtree(old, ignore_errors=True)
    path = base / f"run-{pid}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def check_union(paths: list[Path]) -> tuple[str, bool]:
    """The report on every call the recordings at ``paths`` hold together, and whether a
    deployed role refuses any of them."""
    recorded = {request for path in paths for request in call_log.read(path)}
    by_principal = policies.roles()
    verdict = policies.evaluate(sorted(recorded, key=repr), by_principal)
    text = policies.report(verdict, policies.unused_grants(recorded, by_principal), by_principal)
    return text, bool(verdict.refused)


def pytest_configure(config: pytest.Config) -> None:
    inherited = getattr(config, "workerinput", {}).get(WORKERINPUT_KEY)
    if inherited:
        config.stash[RUN_DIR] = Path(inherited)
    else:
        config.stash[RUN_DIR] = new_run_dir(policies.report_dir(), os.getpid())


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # xdist's hook: the controller sets up a worker
    node.workerinput[WORKERINPUT_KEY] = str(run_dir(node.config))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    directory = run_dir(config)
    if call_log.LOG.requests:
        call_log.LOG.write(directory / f"calls-{worker(config) or 'main'}.jsonl")
    if not distributed(config):
        return
    recordings = sorted(directory.glob("calls-gw*.jsonl"))
    if not recordings:
        return
    text, refused = check_union(recordings)
    (directory / "iam-report.txt").write_text(text)
    if refused:
        config.stash[REFUSED] = text
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    refused = config.stash.get(REFUSED, None)
    if refused:
        terminalreporter.section("IAM: calls the deployed roles would refuse")
        terminalreporter.write(refused)
    directory = run_dir(config)
    if distributed(config):
        if any(directory.glob("calls-gw*.jsonl")):
            terminalreporter.write_line(
                f"IAM: the workers' recordings were checked together; report in {directory}"
            )
    elif call_log.LOG.requests:
        terminalreporter.write_line(
            f"IAM: {len(call_log.LOG.requests)} distinct calls recorded; report and recording "
            f"in {directory}"
        )
