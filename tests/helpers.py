"""Builders shared by the tests: workflow bodies and API Gateway (HTTP API v2) events."""

from typing import Any

from stepwise_local.events import DEFAULT_KEY, http_event

__all__ = ["DEFAULT_KEY", "diamond", "http_event"]


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
