"""Execution names: what StartExecution (with CloudWatch logging) takes, stable, never shared."""

import re
from itertools import combinations

from stepwise.core.ids import batch_run_id, child_run_id, execution_name, new_id

# StartExecution: 1 to 80 characters; CloudWatch logging of executions: only these.
AWS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
LONGEST_REF = "n" * 64


def identities() -> list[tuple[str, ...]]:
    """Run executions and node executions of plain, batch and nested child runs, long refs."""
    run = new_id("run")
    batch = batch_run_id(new_id("bat"), 7)
    deep = run
    deeps = []
    for level in range(5):
        deep = child_run_id(deep, LONGEST_REF[: 60 - level], level + 1)
        deeps.append(deep)
    runs = [run, batch, child_run_id(run, "sub", 1), child_run_id(batch, LONGEST_REF, 2), *deeps]
    refs = ["a", "fetch-data_2", LONGEST_REF, LONGEST_REF[:-1] + "m", "x" * 49, "x" * 50]
    return [(r,) for r in runs] + [(r, ref) for r in runs for ref in refs]


def test_every_name_is_one_aws_takes():
    for parts in identities():
        assert AWS_NAME.match(execution_name(*parts)), parts


def test_names_are_stable_and_distinct():
    cases = identities()
    names = [execution_name(*parts) for parts in cases]
    assert names == [execution_name(*parts) for parts in cases]
    assert len(set(names)) == len(cases)


def test_names_differing_only_past_the_cut_or_in_a_replaced_character_differ():
    run = new_id("run")
    assert execution_name(run, LONGEST_REF) != execution_name(run, LONGEST_REF[:-1] + "m")
    assert execution_name(f"{run}.a", "b") != execution_name(run, "a-b")
    assert execution_name(f"{run}.a", "b") != execution_name(run, "a", "b")
    for a, b in combinations([(run, "a_b"), (run, "a-b"), (f"{run}.a", "b")], 2):
        assert execution_name(*a) != execution_name(*b)


def test_a_plain_run_keeps_its_id_and_others_stay_readable():
    run = new_id("run")
    assert execution_name(run) == run
    assert execution_name(run, "fetch").startswith(f"{run}-fetch-")
    batch = batch_run_id(new_id("bat"), 12)
    assert execution_name(batch).startswith(batch.replace(".", "-") + "-")
