"""Field types shared by the API's request shapes: ids and tags."""

from typing import Annotated

from pydantic import Field

ID_FIELD = Annotated[str, Field(pattern=r"^[a-z0-9_.-]+$", max_length=128)]
# Tags (runs, destinations, action definitions) follow AWS's rules: letters, digits, spaces
# and _ . : / = + - @.
TAG_KEY = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w .:/=+\-@]+$")]
TAG_VALUE = Annotated[str, Field(max_length=256, pattern=r"^[\w .:/=+\-@]*$")]
TAGS = Annotated[dict[TAG_KEY, TAG_VALUE], Field(max_length=50)]
