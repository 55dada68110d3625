"""What every command is given: the API client, the streams, and how to write for them."""

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from stepwise_cli.client import Client
from stepwise_cli.errors import Exit
from stepwise_cli.render import Style, print_json


class Failure(Exception):
    """A command that cannot go on, with the exit code it ends with."""

    def __init__(self, message: str, code: Exit = Exit.USAGE):
        super().__init__(message)
        self.code = code


@dataclass
class Context:
    client: Client
    out: TextIO
    err: TextIO
    env: Mapping[str, str]
    json: bool
    style: Style
    live: bool = False  # stdout is a terminal: progress is redrawn in place
    interval: float = 0.5  # seconds between polls of a run

    def emit(self, value: Any, lines: list[str]) -> None:
        """``value`` as JSON with ``--json``, else the lines for people."""
        if self.json:
            print_json(value, self.out)
        else:
            for line in lines:
                print(line, file=self.out)
        self.out.flush()


def read_document(source: str, what: str) -> Any:
    """JSON or YAML from a file (``-``: standard input); YAML when the name ends in .yaml or
    .yml, else JSON, else YAML (JSON is YAML too, but YAML reads it with looser numbers)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise Failure(f"{what}: cannot read {source}: {exc.strerror}") from None
    if not source.endswith((".yaml", ".yml")):
        try:
            return json.loads(text)
        except ValueError as exc:
            if source.endswith(".json"):
                raise Failure(f"{what}: {source} is not valid JSON: {exc}") from None
    return _yaml(text, source, what)


def _yaml(text: str, source: str, what: str) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover (PyYAML is a dependency of the package)
        raise Failure(f"{what}: reading YAML needs PyYAML (pip install PyYAML)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Failure(f"{what}: {source} is not valid JSON or YAML: {exc}") from None


def parse_input(value: str | None, what: str = "--input") -> Any:
    """``--input``: inline JSON, or ``@file`` (JSON or YAML; ``@-`` reads standard input)."""
    if value is None:
        return None
    if value.startswith("@"):
        return read_document(value[1:], what)
    try:
        return json.loads(value)
    except ValueError as exc:
        raise Failure(f"{what} is not valid JSON ({exc}); use @file to read a file") from None
