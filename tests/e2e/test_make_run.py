"""`python -m stepwise_local` (what `make run` starts): banner, a working API, clean Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_local_stack_serves_with_the_printed_key_and_stops_on_ctrl_c():
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers/core'}{os.pathsep}{ROOT}",
        "STEPWISE_PORT": str(port),
        "STEPWISE_ORG": "initech",
        "STEPWISE_API_KEY": "swk_from_env",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "stepwise_local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = []
        deadline = time.monotonic() + 60
        while "Ctrl-C" not in "".join(banner):
            assert time.monotonic() < deadline and process.poll() is None, "".join(banner)
            banner.append(process.stdout.readline())
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}" in text
        assert "initech" in text and "swk_from_env" in text
        exports = f"STEPWISE_URL=http://127.0.0.1:{port} STEPWISE_ORG=initech"
        assert f"export {exports} STEPWISE_API_KEY=swk_from_env" in text  # the CLI's settings
        base = f"http://127.0.0.1:{port}"
        health = None
        for _ in range(100):  # uvicorn binds just after the banner
            try:
                health = httpx.get(f"{base}/healthz")
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert health is not None and health.json() == {"status": "ok"}
        assert f"console  {base}/console" in text
        page = httpx.get(f"{base}/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        runs = httpx.get(f"{base}/v1/orgs/initech/runs", headers={"x-api-key": "swk_from_env"})
        assert runs.status_code == 200 and runs.json()["data"] == []
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "Stepwise local stack stopped." in output
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_bad_stepwise_faults_stops_make_run_with_an_error_naming_the_key():
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers/core'}{os.pathsep}{ROOT}",
        "STEPWISE_FAULTS": "throttle=0.05,lambda_eror=0.1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "stepwise_local"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "STEPWISE_FAULTS" in done.stderr and "'lambda_eror'" in done.stderr
