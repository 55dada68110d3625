"""``make asl-check``, part two: the state machines' paths through an interpreter this project
did not write.

Each scenario runs on the moto stack with the engine's real code; every execution it made is
then replayed on LocalStack's Step Functions with the engine's recorded answers (tests/asl/
localstack.py). Each execution must enter the states the engine assumes (tests/asl/scenarios.py)
on both, in the same order. Prints each execution's history size on both."""

import sys
import time
from collections import Counter

from tests.asl.localstack import replay
from tests.asl.recording import Recorded
from tests.asl.scenarios import SCENARIOS, Scenario, record


def _same(scenario: Scenario, expected: list[str], path: list[str]) -> bool:
    if scenario.unordered:
        return Counter(expected) == Counter(path)
    return expected == path


def _errors(recorded: Recorded) -> list[str]:
    return [o.error for answers in recorded.outcomes.values() for o in answers if o.error]


def _answers(recorded: Recorded) -> dict[str, list[str]]:
    """Per Task state, how each of its tasks ended ("ok" or the error), in order."""
    return {
        state: [o.error or "ok" for o in answers] for state, answers in recorded.outcomes.items()
    }


def main() -> int:
    chosen = [s for s in SCENARIOS if len(sys.argv) < 2 or s.name in sys.argv[1:]]
    began = time.monotonic()
    recorded = record(chosen)
    recorded_at = time.monotonic()
    flat = [r for s in chosen for r in recorded[s.name]]
    replayed = dict(zip((id(r) for r in flat), replay(flat).values(), strict=True))
    replayed_at = time.monotonic()
    problems = []
    print(
        f"{'scenario':<20} {'execution':<20} {'events: moto':>12} {'LocalStack':>10}"
        f" {'seconds: moto':>13} {'LocalStack':>10}  errors caught"
    )
    for scenario in chosen:
        labels = sorted(r.label for r in recorded[scenario.name])
        if labels != sorted(scenario.paths):
            problems.append(
                f"{scenario.name}: executions {labels}, expected {sorted(scenario.paths)}"
            )
        for moto in recorded[scenario.name]:
            local = replayed[id(moto)]
            expected = scenario.paths.get(moto.label, [])
            where = f"{scenario.name} / {moto.label}"
            for side, run in (("moto", moto), ("LocalStack", local)):
                if not _same(scenario, expected, run.path):
                    problems.append(f"{where}: {side} entered {run.path}, expected {expected}")
                if run.status != "SUCCEEDED":
                    problems.append(f"{where}: {side} execution {run.status}")
            if local.express_status and local.express_status != "SUCCEEDED":
                problems.append(f"{where}: LocalStack as Express {local.express_status}")
            if local.express_status and local.express_output != local.output:
                problems.append(
                    f"{where}: LocalStack's output as Express {local.express_output}, as"
                    f" Standard {local.output}"
                )
            if _answers(moto) != _answers(local):
                problems.append(
                    f"{where}: task outcomes moto {_answers(moto)}, LocalStack {_answers(local)}"
                )
            errors = f"Express: {local.express_status}  " if local.express_status else ""
            if _errors(moto) or _errors(local):
                errors += f"moto {_errors(moto)} LocalStack {_errors(local)}"
            print(
                f"{scenario.name:<20} {moto.label:<20} {len(moto.events):>12} "
                f"{len(local.events):>10} {moto.seconds:>13.1f} {local.seconds:>10.1f}  {errors}"
            )
    by_name = {s.name: recorded[s.name] for s in chosen}
    if "for_each" in by_name and "for_each_25" in by_name:

        def node_events(name: str, side: str) -> int:
            """Events of the executions that ran the items (the items machine's chunks)."""
            runs = [r for r in by_name[name] if r.label.startswith("items")]
            return sum(len((r if side == "moto" else replayed[id(r)]).events) for r in runs)

        for side in ("moto", "LocalStack"):
            per_item = (node_events("for_each_25", side) - node_events("for_each", side)) / 22
            line = f"history events per for_each item ({side}): {per_item:.1f}"
            if "for_each_retried" in by_name:
                retry = (node_events("for_each_retried", side) - node_events("for_each", side)) / 3
                line += f", per retry of an item: {retry:.1f}"
            print(line)
    print(
        f"recorded on moto in {recorded_at - began:.1f} s, "
        f"replayed on LocalStack in {replayed_at - recorded_at:.1f} s"
    )
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
