"""README's API table lists every route the API serves, with the scope the route requires,
and nothing the API does not serve: a route added or removed without the table fails here."""

import re
from pathlib import Path

from stepwise.api.app import create_app

README = Path(__file__).resolve().parents[3] / "README.md"
ORG_PREFIX = "/v1/orgs/{org_id}"
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| ([^|]+) \|", re.M)


def readme_routes() -> dict[tuple[str, str], str]:
    section = README.read_text().split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for method, path, scope in ROW.findall(section):
        full = path if path.startswith(("/v1/signals", "/healthz")) else ORG_PREFIX + path
        assert (method, full) not in rows, f"{method} {path} twice in README"
        rows[(method, full)] = scope.strip().split(" ")[0]
    return rows


def served_routes() -> dict[tuple[str, str], str]:
    spec = create_app().openapi()
    return {
        (method.upper(), path): operation.get("x-required-scope") or "none"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


def test_the_readme_api_table_is_every_route_with_its_scope():
    listed, served = readme_routes(), served_routes()
    assert sorted(set(served) - set(listed)) == [], "served but not in README's API table"
    assert sorted(set(listed) - set(served)) == [], "in README's API table but not served"
    assert {k: v for k, v in listed.items() if served[k] != v} == {}, "scopes differ"
