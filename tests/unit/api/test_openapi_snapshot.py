"""The API's OpenAPI document (what /openapi.json serves) stays exactly as committed in
tests/openapi.snapshot.json: a refactor must not change the API by accident.

When the API changes on purpose, regenerate the snapshot and commit it with the change:

    make openapi-snapshot

(which runs ``STEPWISE_OPENAPI_SNAPSHOT=update pytest tests/unit -k test_openapi_snapshot``:
this module then writes the snapshot instead of comparing), and review
``git diff tests/openapi.snapshot.json``: it is the API change as clients will see it.
"""

import difflib
import json
import os
from pathlib import Path
from typing import Any

from stepwise.api.app import create_app

SNAPSHOT = Path(__file__).resolve().parents[2] / "openapi.snapshot.json"
UPDATE = os.environ.get("STEPWISE_OPENAPI_SNAPSHOT") == "update"
SHOWN_LINES = 80  # of the unified diff of what changed, at most


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=1)


def differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Which operations, schemas and other parts differ, then a short diff of the changes."""
    lines: list[str] = []
    changed: list[tuple[str, Any, Any]] = []

    def compare(kind: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        for name in sorted(set(before) | set(after)):
            if name not in after:
                lines.append(f"{kind} removed: {name}")
            elif name not in before:
                lines.append(f"{kind} added: {name}")
            elif before[name] != after[name]:
                lines.append(f"{kind} changed: {name}")
                changed.append((f"{kind} {name}", before[name], after[name]))

    old_paths, new_paths = old.get("paths", {}), new.get("paths", {})
    for path in sorted(set(old_paths) | set(new_paths)):
        compare(
            "operation",
            {f"{method.upper()} {path}": op for method, op in old_paths.get(path, {}).items()},
            {f"{method.upper()} {path}": op for method, op in new_paths.get(path, {}).items()},
        )
    old_components, new_components = old.get("components", {}), new.get("components", {})
    compare("schema", old_components.get("schemas", {}), new_components.get("schemas", {}))
    compare(
        "components section",
        {k: v for k, v in old_components.items() if k != "schemas"},
        {k: v for k, v in new_components.items() if k != "schemas"},
    )
    compare(
        "top-level key",
        {k: v for k, v in old.items() if k not in {"paths", "components"}},
        {k: v for k, v in new.items() if k not in {"paths", "components"}},
    )
    diff: list[str] = []
    for label, before, after in changed:
        diff += difflib.unified_diff(
            render(before).splitlines(),
            render(after).splitlines(),
            f"snapshot: {label}",
            f"now: {label}",
            lineterm="",
        )
    if len(diff) > SHOWN_LINES:
        diff = [*diff[:SHOWN_LINES], f"... {len(diff) - SHOWN_LINES} more diff lines"]
    return "\n".join([*lines, *diff])


def test_the_openapi_document_is_the_committed_snapshot():
    rendered = render(create_app().openapi())
    if UPDATE:
        SNAPSHOT.write_text(rendered)
        return
    committed = SNAPSHOT.read_text().removesuffix("\n")  # an editor's final newline is no change
    if rendered != committed:
        report = differences(json.loads(committed), json.loads(rendered))
        raise AssertionError(
            "the OpenAPI document differs from tests/openapi.snapshot.json "
            "(if the API changed on purpose: make openapi-snapshot, and commit it):\n"
            + (report or "same content, different text: was the snapshot edited by hand?")
        )


def test_the_differences_name_each_operation_and_schema():
    old = {
        "openapi": "3.1.0",
        "paths": {"/a": {"get": {"summary": "A"}}, "/gone": {"get": {}}},
        "components": {"schemas": {"Kept": {"type": "object"}, "Old": {}}},
    }
    new = {
        "openapi": "3.1.0",
        "paths": {"/a": {"get": {"summary": "B"}, "post": {}}},
        "components": {"schemas": {"Kept": {"type": "object"}, "New": {}}},
    }
    report = differences(old, new).splitlines()
    assert report[:5] == [
        "operation changed: GET /a",
        "operation added: POST /a",
        "operation removed: GET /gone",
        "schema added: New",
        "schema removed: Old",
    ]
    assert '- "summary": "A"' in report and '+ "summary": "B"' in report
    assert differences(old, old) == ""
