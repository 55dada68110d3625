"""The console's committed build: fresh for its sources, within its size budget, and loading
nothing from anywhere but the API itself."""

import gzip
import hashlib
import json
import re
from pathlib import Path

from stepwise.api import console

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ROOT / "console"
# Issue 16: the first load (page, script, stylesheet) under 300 KB over the wire, gzipped as
# the API serves it.
FIRST_LOAD_BUDGET = 300 * 1024


def manifest() -> dict:
    return json.loads((console.ASSETS / "manifest.json").read_text())


def source_hashes() -> dict[str, str]:
    found = {}
    for path in sorted(SOURCES.rglob("*")):
        if path.is_file() and "node_modules" not in path.relative_to(SOURCES).parts:
            rel = path.relative_to(SOURCES).as_posix()
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_the_committed_build_is_the_build_of_the_sources():
    """A change under console/ without `make console` fails here, not in a user's browser."""
    assert manifest()["sources"] == source_hashes(), "run `make console` and commit the build"


def test_the_first_load_fits_the_budget_over_the_wire():
    served = console.assets()
    page = served[console.INDEX]
    loaded = re.findall(r'(?:src|href)="/console/([^"]+)"', page.body.decode())
    assert sorted(loaded) == sorted([manifest()["js"], manifest()["css"]])
    first_load = len(page.gzipped) + sum(len(served[name].gzipped) for name in loaded)
    assert first_load < FIRST_LOAD_BUDGET, f"{first_load} bytes gzipped"
    # What the API sends is what this counts: gzip of the very bytes on disk.
    for name in loaded:
        assert gzip.decompress(served[name].gzipped) == (console.ASSETS / name).read_bytes()


def test_the_page_loads_nothing_from_another_origin():
    page = (console.ASSETS / "index.html").read_text()
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert ref.startswith("/console/") or ref.startswith("data:"), ref
    bundle = (console.ASSETS / manifest()["js"]).read_text()
    assert not re.search(r"""(?:import\s*\(|from\s*)["'](?:https?:)?//""", bundle)
    assert not re.search(r"""fetch\(\s*["'`](?:https?:)?//""", bundle)


def test_gzip_is_sent_only_to_clients_that_accept_it():
    assert console.accepts_gzip("gzip, deflate, br")
    assert console.accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert console.accepts_gzip("*")
    assert not console.accepts_gzip("")
    assert not console.accepts_gzip("br, deflate")
    assert not console.accepts_gzip("gzip;q=0")
    assert not console.accepts_gzip("gzip;q=zero")
