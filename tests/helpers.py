"""Builders shared by the tests: workflow bodies and API Gateway (HTTP API v2) events."""

import os
from typing import Any

from stepwise_local.events import DEFAULT_KEY, http_event

__all__ = ["DEFAULT_KEY", "diamond", "examples", "http_event"]

FULL_EXAMPLES_VAR = "STEPWISE_FULL_EXAMPLES"


def examples(ci: int, full: int) -> int:
    """How many examples a Hypothesis property test draws when each example is a whole run on
    moto: ``ci`` in `make test` (and CI), ``full`` with STEPWISE_FULL_EXAMPLES=1 set
    (docs/testing.md)."""
    return full if os.environ.get(FULL_EXAMPLES_VAR) == "1" else ci


def diamond(**extra: Any) -> dict[str, Any]:
    """a -> b, a -> c, b + c -> d; d's output is built from b's and c's."""
    return {
        "name": "diamond",
        "nodes": [
            {"ref": "a", "kind": "transform", "args": {"n": "{{ input.n }}"}},
            {
                "ref": "b",
                "kind": "transform",
                "args": {"double": "{{ [nodes.a.output.n, nodes.a.output.n] }}"},
                "depends_on": ["a"],
            },
            {
                "ref": "c",
                "kind": "transform",
                "args": {"label": "n is {{ nodes.a.output.n }}"},
                "depends_on": ["a"],
            },
            {
                "ref": "d",
                "kind": "transform",
                "args": {
                    "from_b": "{{ nodes.b.output.double }}",
                    "from_c": "{{ nodes.c.output.label }}",
                },
                "depends_on": ["b", "c"],
            },
        ],
        **extra,
    }
