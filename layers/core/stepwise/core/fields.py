"""Field types shared by the API's request shapes: ids, tags and free JSON."""

from typing import Annotated, Any

from pydantic import AfterValidator, Field

ID_FIELD = Annotated[str, Field(pattern=r"^[a-z0-9_.-]+$", max_length=128)]
# Tags (runs, destinations, action definitions) follow AWS's rules: letters, digits, spaces
# and _ . : / = + - @.
TAG_KEY = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w .:/=+\-@]+$")]
TAG_VALUE = Annotated[str, Field(max_length=256, pattern=r"^[\w .:/=+\-@]*$")]
TAGS = Annotated[dict[TAG_KEY, TAG_VALUE], Field(max_length=50)]

# Free JSON in a request (inputs, args, results) may nest at most this deep. Deeper values
# cannot be serialised back (pydantic stops at its own depth), nor rendered or stored as
# DynamoDB maps (32 levels), so they are refused where they come in, naming the field.
MAX_JSON_DEPTH = 32


def _within_depth(value: Any) -> Any:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return value


JSON = Annotated[Any, AfterValidator(_within_depth)]
