"""Recorded executions replayed on LocalStack's Step Functions interpreter (host mode, its own
virtualenv .venv-localstack, no Docker).

Every Lambda-backed Task state answers what the engine's real code answered on the moto stack
(SFN_MOCK_CONFIG mocked responses, one test case per execution); the SQS ``Deliver`` state is not
mocked: its message goes to a real LocalStack queue, and this module answers it with
SendTaskSuccess and the dispatcher's recorded result, or lets it time out when it timed out.

An EXPRESS machine's execution has no history to read, on LocalStack as on AWS (DescribeExecution
and GetExecutionHistory refuse Express executions). So its definition is created twice: as the
template's EXPRESS machine (LocalStack refuses there what AWS refuses in Express, task tokens and
``.sync``), where each recorded execution runs again through StartSyncExecution, which gives its
status and output only; and as a Standard machine of the same definition, whose history gives the
path, compared with the engine's expected path like any other."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from stepwise_local.template import REPO_ROOT
from tests.asl.definitions import definitions
from tests.asl.recording import Recorded, execution_output, history, outcomes

VENV_PYTHON = REPO_ROOT / ".venv-localstack" / "bin" / "python"
ACCOUNT = "000000000000"  # LocalStack's account for any access key
REGION = "us-east-1"
RUNNING = "RUNNING"
READY_WITHIN_SECONDS = 30.0
EXPRESS = "EXPRESS"
EXPRESS_COPY = "-express"  # the name suffix of an Express definition's EXPRESS copy


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStackProcess:
    """``python -m localstack.runtime.main`` on a free port, its files in a temporary folder."""

    def __init__(self, mock_config: Path, workdir: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mock_config = mock_config
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "localstack.log"

    def __enter__(self) -> "LocalStackProcess":
        env = {
            **os.environ,
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "SERVICES": "stepfunctions,sqs,sts,iam,logs",
            "DNS_ADDRESS": "0",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "LOCALSTACK_TELEMETRY_DISABLED": "1",
            "DISABLE_EVENTS": "1",
            "SQS_ENDPOINT_STRATEGY": "path",
            "SFN_MOCK_CONFIG": str(self.mock_config),
            # Host-mode directories (not /var/lib/localstack, where it goes when it believes it
            # runs in a container), under its own virtualenv so its caches survive the run.
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(VENV_PYTHON.parent.parent / "filesystem"),
            "TMPDIR": str(self.workdir),
        }
        for key in ("PYTHONPATH", "VIRTUAL_ENV"):
            env.pop(key, None)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 (our own pinned virtualenv)
                [str(VENV_PYTHON), "-m", "localstack.runtime.main"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_localstack/health", timeout=2) as r:  # noqa: S310
                    services = json.load(r)["services"]
                if services.get("stepfunctions") in ("available", "running"):
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"LocalStack did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # LocalStack accepts any
            # StartSyncExecution's endpoint is sync-<host> on AWS: here the one endpoint serves
            config=Config(inject_host_prefix=False),
        )


def _task_resources(states: dict[str, Any], found: dict[str, str]) -> dict[str, str]:
    """Task state name -> Resource, nested Map and Parallel states included."""
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state["Resource"]
        for inner in (
            state.get("ItemProcessor"),
            state.get("Iterator"),
            *state.get("Branches", []),
        ):
            if inner:
                _task_resources(inner["States"], found)
    return found


def _mocked(resource: str) -> bool:
    """Lambda-backed tasks are answered from the recording; other integrations run for real."""
    return ":lambda:" in resource and ":states:::sqs:" not in resource


def _response(resource: str, outcome: Any) -> dict[str, Any]:
    if outcome.error is not None:
        return {"Throw": {"Error": outcome.error, "Cause": outcome.cause or outcome.error}}
    if resource.startswith("arn:") and ":states:::" in resource:
        # an integration (lambda:invoke.waitForTaskToken): the mock is the task's result
        return {"Return": outcome.output}
    # a plain function ARN: the mock is Lambda's Invoke response
    return {"Return": {"StatusCode": 200, "Payload": outcome.output}}


def mock_config(
    cases: dict[str, Recorded], machines: dict[str, tuple[str, dict[str, str]]]
) -> dict[str, Any]:
    """SFN_MOCK_CONFIG: a test case per recorded execution, a response per recorded answer.

    ``machines``: logical id -> (state machine name, task state -> Resource)."""
    config: dict[str, Any] = {"StateMachines": {}, "MockedResponses": {}}
    for case, recorded in cases.items():
        name, resources = machines[recorded.machine]
        test_case: dict[str, str] = {}
        for state, answers in recorded.outcomes.items():
            if not _mocked(resources[state]):
                continue
            response_name = f"{case}.{state}"
            config["MockedResponses"][response_name] = {
                str(i): _response(resources[state], a) for i, a in enumerate(answers)
            }
            test_case[state] = response_name
        machine = config["StateMachines"].setdefault(name, {"TestCases": {}})
        machine["TestCases"][case] = test_case
    return config


def with_express_copies(config: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """``config`` with each named (Express) machine's test cases also under its EXPRESS copy's
    name, so that a case's ARN on either machine gets the same mocked answers."""
    machines = dict(config["StateMachines"])
    for name in names:
        if name in machines:
            machines[name + EXPRESS_COPY] = machines[name]
    return {**config, "StateMachines": machines}


class _DeliveryAnswerer(threading.Thread):
    """Plays the dispatcher: the n-th Deliver (or ItemDeliver) message of a node is answered with
    the result the n-th delivery of that node had on the moto stack (SendTaskSuccess), or left
    to time out if that one timed out."""

    def __init__(self, sqs: Any, sfn: Any, queue_url: str, answers: dict[tuple, list[Any]]):
        super().__init__(daemon=True)
        self.sqs, self.sfn, self.queue_url, self.answers = sqs, sfn, queue_url, answers
        self.stop = threading.Event()
        self.delivered: dict[tuple, int] = {}
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._answer_some()
            except Exception as exc:  # noqa: BLE001 reported by replay(), which fails the check
                self.failures.append(repr(exc))
                time.sleep(0.5)

    def _succeed(self, body: dict[str, Any], answer: Any) -> None:
        """SendTaskSuccess once the task is really waiting. LocalStack sends the message before it
        sets up the task's heartbeat wait, and loses a SendTaskSuccess that comes in between (the
        task then times out: measured, also with a fixed one-second delay on a loaded machine).
        SendTaskHeartbeat answers InvalidToken until that wait exists, so it is the signal; a
        heartbeat before the answer is also valid on AWS, where Deliver has HeartbeatSeconds."""
        token = body["task_token"]
        try:
            deadline = time.monotonic() + READY_WITHIN_SECONDS
            while True:
                try:
                    self.sfn.send_task_heartbeat(taskToken=token)
                    break
                except self.sfn.exceptions.InvalidToken:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            self.sfn.send_task_success(taskToken=token, output=json.dumps(answer.output))
        except Exception as exc:  # noqa: BLE001 reported by replay(), which fails the check
            self.failures.append(repr(exc))

    def _answer_some(self) -> None:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            key = (body["run_id"], body["node_ref"])
            n = self.delivered.get(key, 0)
            self.delivered[key] = n + 1
            answer = self.answers[key][n]
            if answer.error is None:
                threading.Thread(target=self._succeed, args=(body, answer), daemon=True).start()
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def _run_sync(sfn: Any, machine_arn: str, recorded: Recorded) -> tuple[str, Any]:
    """One recorded execution on an EXPRESS machine (a test case's ARN): its status and output.
    An Express name may be used again, so the recorded one is."""
    started = sfn.start_sync_execution(
        stateMachineArn=machine_arn, name=recorded.name, input=json.dumps(recorded.input)
    )
    output = started.get("output")
    return started["status"], json.loads(output) if output is not None else None


def replay(recorded: list[Recorded], timeout: float = 180) -> dict[str, Recorded]:
    """Runs every recorded execution again on LocalStack; the result per test case name."""
    with tempfile.TemporaryDirectory(prefix="asl-check-") as tmp:
        config_path = Path(tmp) / "mock-config.json"
        config_path.write_text("{}")
        with LocalStackProcess(config_path, Path(tmp)) as localstack:
            sfn, sqs = localstack.client("stepfunctions"), localstack.client("sqs")
            queue_url = sqs.create_queue(QueueName="stepwise-WebhookQueue")["QueueUrl"]
            machines: dict[str, tuple[str, dict[str, str]]] = {}
            arns: dict[str, str] = {}
            express_arns: dict[str, str] = {}  # logical id -> its EXPRESS copy
            role = f"arn:aws:iam::{ACCOUNT}:role/stepwise-state-machines"
            for definition in definitions(REGION, ACCOUNT, refs={"WebhookQueue": queue_url}):
                arns[definition.logical_id] = sfn.create_state_machine(
                    name=definition.name, definition=definition.text, roleArn=role
                )["stateMachineArn"]
                if definition.type == EXPRESS:
                    express_arns[definition.logical_id] = sfn.create_state_machine(
                        name=definition.name + EXPRESS_COPY,
                        definition=definition.text,
                        roleArn=role,
                        type=EXPRESS,
                    )["stateMachineArn"]
                resources = _task_resources(json.loads(definition.text)["States"], {})
                machines[definition.logical_id] = (definition.name, resources)
            cases = {f"case{i}": r for i, r in enumerate(recorded)}
            names = [machines[logical_id][0] for logical_id in express_arns]
            config = with_express_copies(mock_config(cases, machines), names)
            config_path.write_text(json.dumps(config, indent=1))
            # A node's Deliver, or its items' ItemDeliver (in a chunk execution, whose items
            # the scenarios deliver one at a time, so the n-th message is the n-th recorded).
            answers = {
                (r.input["run_id"], r.input["node_ref"]): [
                    *r.outcomes.get("Deliver", []),
                    *r.outcomes.get("ItemDeliver", []),
                ]
                for r in recorded
                if "Deliver" in r.outcomes or "ItemDeliver" in r.outcomes
            }
            answerer = _DeliveryAnswerer(sqs, sfn, queue_url, answers)
            answerer.start()
            started = {}
            try:
                for case, r in cases.items():
                    started[case] = sfn.start_execution(
                        stateMachineArn=f"{arns[r.machine]}#{case}",
                        name=r.name,
                        input=json.dumps(r.input),
                    )["executionArn"]
                # While those run: each Express machine's execution again on its EXPRESS copy.
                synced = {
                    case: _run_sync(sfn, f"{express_arns[r.machine]}#{case}", r)
                    for case, r in cases.items()
                    if r.machine in express_arns
                }
                deadline = time.monotonic() + timeout
                replayed: dict[str, Recorded] = {}
                while len(replayed) < len(started):
                    for case, arn in started.items():
                        if case in replayed:
                            continue
                        described = sfn.describe_execution(executionArn=arn)
                        status = described["status"]
                        if status != RUNNING:
                            took = described["stopDate"] - described["startDate"]
                            events = history(sfn, arn)
                            r = cases[case]
                            express_status, express_output = synced.get(case, ("", None))
                            replayed[case] = Recorded(
                                r.label,
                                r.machine,
                                r.name,
                                r.input,
                                status,
                                events,
                                outcomes(events),
                                took.total_seconds(),
                                express_status,
                                express_output,
                                execution_output(events),
                            )
                    if time.monotonic() > deadline:
                        late = sorted(cases[c].name for c in started if c not in replayed)
                        raise AssertionError(
                            f"still running on LocalStack after {timeout}s: {late}"
                        )
                    time.sleep(0.2)
            finally:
                answerer.stop.set()
                answerer.join(timeout=5)
            if answerer.failures:
                raise AssertionError(f"answering Deliver failed: {answerer.failures}")
            return {case: replayed[case] for case in cases}
