"""``make asl-check``, part one: every state machine through asl-validator (pinned in
tools/asl/package-lock.json), substituted for each partition as a deployment would."""

import subprocess
import sys
import tempfile
from pathlib import Path

from stepwise_local.template import REPO_ROOT
from tests.asl.definitions import REGIONS, definitions

VALIDATOR = REPO_ROOT / "tools" / "asl" / "node_modules" / ".bin" / "asl-validator"


def main() -> int:
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for region in REGIONS:
            for definition in definitions(region):
                target = Path(tmp) / region / definition.path.name
                target.parent.mkdir(exist_ok=True)
                target.write_text(definition.text)
                result = subprocess.run(  # noqa: S603 (our own pinned tool, our own files)
                    [str(VALIDATOR), "--json-path", str(target)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                label = f"{definition.path.relative_to(REPO_ROOT)} ({region})"
                if result.returncode != 0:
                    failed += 1
                    print(f"FAIL {label}\n{result.stdout}{result.stderr}", file=sys.stderr)
                else:
                    print(f"ok   {label}: {result.stdout.strip()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
