"""The ``stepwise`` command: Stepwise's API from a terminal or a script (docs/cli.md)."""

__version__ = "0.1.0"
