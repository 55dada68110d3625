"""make audit's template scan: checkov on template.yaml, minus the reasoned suppressions.

Fails on a finding not in tools/audit/checkov-suppressions.txt, on a suppression with no
reason, and on a suppression that no longer matches any finding.
"""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPPRESSIONS = ROOT / "tools/audit/checkov-suppressions.txt"


@dataclass(frozen=True)
class Suppression:
    check: str
    resources: frozenset[str]  # empty: every resource
    reason: str

    def covers(self, check: str, resource: str) -> bool:
        return check == self.check and (not self.resources or resource in self.resources)


def parse(text: str) -> tuple[list[Suppression], list[str]]:
    """The suppressions, and the problems of the lines that are not valid ones."""
    found, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[2].strip():
            problems.append(f"line {number}: a suppression needs a check, resources and a reason")
            continue
        check, resources, reason = parts
        names = frozenset() if resources == "*" else frozenset(resources.split(","))
        found.append(Suppression(check, names, reason.strip()))
    return found, problems


def findings(report: dict | list) -> set[tuple[str, str, str]]:
    """(check id, resource logical id, check name) of every failed check of checkov's JSON."""
    reports = report if isinstance(report, list) else [report]
    return {
        (c["check_id"], c["resource"].rsplit(".", 1)[-1], c["check_name"])
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    }


def judge(failed: set[tuple[str, str, str]], suppressions: list[Suppression]) -> list[str]:
    """Every reason to fail: unsuppressed findings and stale suppressions."""
    problems = [
        f"{check} {resource}: {name}"
        for check, resource, name in sorted(failed)
        if not any(s.covers(check, resource) for s in suppressions)
    ]
    for s in suppressions:
        used = {r for check, r, _ in failed if s.covers(check, r)}
        stale = (s.resources - used) if s.resources else (set() if used else {"*"})
        if stale:
            problems.append(f"suppression {s.check} {','.join(sorted(stale))} matches nothing")
    return problems


def main(checkov: str) -> int:
    done = subprocess.run(  # noqa: S603 (our tool venv's checkov, our template)
        [
            checkov,
            "-f",
            str(ROOT / "template.yaml"),
            "--framework",
            "cloudformation",
            "--quiet",
            "--output",
            "json",
            "--soft-fail",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
        print("checkov did not run", file=sys.stderr)
        return 2
    suppressions, problems = parse(SUPPRESSIONS.read_text())
    failed = findings(json.loads(done.stdout))
    problems += judge(failed, suppressions)
    for problem in problems:
        print(f"checkov: {problem}", file=sys.stderr)
    accepted = len(failed) - sum(1 for p in problems if not p.startswith("suppression"))
    print(
        f"checkov: {len(failed)} findings, {accepted} accepted with a reason, "
        f"{len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".venv-audit/bin/checkov"))
