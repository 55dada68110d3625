"""`make demo` (python -m stepwise_local.demo) runs its workflow to the end and says so."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_the_sample_workflow_with_verified_signatures():
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers/core'}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "stepwise_local.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Demo succeeded." in done.stdout
    assert done.stdout.count("verified") == 2 and "NOT verified" not in done.stdout
    assert "1. signal    success" in done.stdout and "1. heartbeat running" in done.stdout
