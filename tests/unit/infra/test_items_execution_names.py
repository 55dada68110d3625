"""Chunk executions are named as StartExecution (with execution logging) allows, and apart."""

import re

from stepwise.core.ids import batch_run_id, child_run_id, new_id
from stepwise.infra.executions import items_execution_name, node_execution_name

NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def test_every_chunk_of_the_longest_identities_has_a_valid_distinct_name():
    deep = new_id("run")
    for _ in range(10):  # child runs nest 10 levels at most
        deep = child_run_id(deep, "r" * 64, 100)
    runs = [new_id("run"), batch_run_id(new_id("bat"), 999), deep]
    for run in runs:
        names = {items_execution_name(run, "n" * 64, chunk) for chunk in range(2000)}
        assert len(names) == 2000
        assert all(NAME.fullmatch(name) for name in names)
        assert node_execution_name(run, "n" * 64) not in names
