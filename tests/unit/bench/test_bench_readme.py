"""The README's cost table: rendered from bench/results.json, and kept equal to it."""

import json

import pytest

from bench import readme


def test_the_readme_shows_the_table_of_the_last_bench():
    results = json.loads(readme.RESULTS.read_text())
    assert readme.written(readme.README) == readme.render(results), (
        "README.md's cost table is not what bench/results.json gives: run `make bench` (or "
        "`python -m bench.readme`) and commit both"
    )


def test_the_table_has_a_row_per_kind_with_its_budget_and_temporal_cloud():
    results = json.loads(readme.RESULTS.read_text())
    table = readme.render(results)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    header, *body = rows
    assert header.split(" | ")[3:5] == ["budget", "Temporal Cloud"]
    assert [row.split(" | ")[0].lstrip("| ") for row in body] == list(readme.ROWS.values())
    webhook = body[1].split(" | ")
    per_unit = results["cost"]["per_unit"]["webhook_node"]
    assert webhook[1] == readme._usd(per_unit["usd_per_1000"]["total"])
    assert webhook[3].startswith("≤ $0.02")
    assert webhook[4] == readme._usd(per_unit["temporal_cloud_usd_per_1000"])


def test_write_into_replaces_only_what_stands_between_the_markers(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(f"before\n{readme.BEGIN}\nold\n{readme.END}\nafter\n")
    readme.write_into(doc, "new table")
    assert doc.read_text() == f"before\n{readme.BEGIN}\nnew table\n{readme.END}\nafter\n"
    doc.write_text("no markers")
    with pytest.raises(ValueError, match="no cost markers"):
        readme.write_into(doc, "x")
