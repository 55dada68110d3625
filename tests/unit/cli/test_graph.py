"""A run's graph and its progress as text: layers, edges, statuses; symbols and colours only on
a terminal and never with NO_COLOR; a terminal's drawing redrawn in place."""

import io

from stepwise_cli import graph
from stepwise_cli.render import Style, table, width
from stepwise_cli.watch import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def node(ref, status="pending", kind="transform", depends_on=(), **extra):
    return {"ref": ref, "kind": kind, "status": status, "depends_on": list(depends_on), **extra}


DIAMOND = [
    node("a", "succeeded"),
    node("b", "succeeded", depends_on=["a"]),
    node("c", "failed", depends_on=["a"], error={"type": "Boom", "message": "no"}),
    node("d", "cancelled", depends_on=["b", "c"]),
    node("h", "running", depends_on=["c.error"], attempt=2),
]


def test_a_node_sits_one_layer_below_its_deepest_parent():
    nodes = [node("late", depends_on=["a", "deep"]), node("a"), node("deep", depends_on=["a"])]
    assert [[n["ref"] for n in row] for row in graph.layers(nodes)] == [["a"], ["deep"], ["late"]]


def test_children_links_give_the_edges_when_the_api_has_them():
    nodes = [
        {**node("a"), "children": [{"ref": "f", "on": "error"}, {"ref": "b", "on": "success"}]},
        node("b", depends_on=["a"]),
        node("f"),
    ]
    assert graph.parents(nodes) == {"a": [], "b": [("a", "success")], "f": [("a", "error")]}


def test_a_fallback_is_an_error_edge_in_a_workflows_graph():
    nodes = [{**node("a"), "fallback": "f"}, node("f")]
    assert graph.parents(nodes)["f"] == [("a", "error")]
    assert [[n["ref"] for n in row] for row in graph.layers(nodes)] == [["a"], ["f"]]


def test_the_plain_drawing_names_every_node_its_status_and_its_edges():
    lines = graph.draw(DIAMOND, Style())
    assert lines == [
        " 1  a  transform  succeeded",
        " 2  b  transform  succeeded  <- a",
        "    c  transform  failed     <- a  [Boom: no]",
        " 3  d  transform  cancelled  <- b, c",
        "    h  transform  running    <- c (on error)  [attempt 2]",
    ]


def test_a_terminal_gets_symbols_and_colours_and_no_color_turns_them_off():
    on_terminal = Style.for_stream(Terminal(), {})
    assert on_terminal == Style(symbols=True, colour=True)
    drawn = "\n".join(graph.draw(DIAMOND, on_terminal))
    assert "\x1b[32m✔ succeeded\x1b[0m" in drawn and "\x1b[31m✘ failed" in drawn
    assert "← b, c" in drawn
    assert Style.for_stream(Terminal(), {"NO_COLOR": "1"}) == Style()
    assert Style.for_stream(Terminal(), {"TERM": "dumb"}) == Style()
    assert Style.for_stream(io.StringIO(), {}) == Style()


def test_columns_line_up_whatever_the_escape_codes():
    style = Style(symbols=True, colour=True)
    lines = table([[style.status("succeeded"), "x"], [style.status("failed"), "y"]], ["S", "V"])
    assert len({width(line[: line.rindex(" ") + 1]) for line in lines[1:]}) == 1


def run(status, *nodes):
    return {"id": "run_1", "status": status, "nodes": list(nodes)}


def test_progress_on_a_terminal_redraws_its_lines_in_place():
    out = Terminal()
    progress = Progress(out, Style(), live=True)
    progress.update(run("running", node("a", "running"), node("b", depends_on=["a"])))
    first = out.getvalue()
    assert first.count("\n") == 3 and "\x1b[" not in first.replace("\x1b[2K", "")
    progress.update(
        run("succeeded", node("a", "succeeded"), node("b", "succeeded", depends_on=["a"]))
    )
    second = out.getvalue()[len(first) :]
    assert second.startswith("\x1b[3F")  # back to the top of the drawing
    assert second.count("\x1b[2K") == 3 and "b  transform  succeeded  <- a" in second


def test_progress_elsewhere_appends_a_line_per_change_only():
    out = io.StringIO()
    progress = Progress(out, Style(), live=False)
    progress.update(run("running", node("a", "running"), node("b")))
    progress.update(run("running", node("a", "running"), node("b")))  # nothing changed
    progress.update(run("succeeded", node("a", "succeeded"), node("b", "succeeded")))
    lines = [line.split("  ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "run run_1 running",
        "a running",
        "b pending",
        "run run_1 succeeded",
        "a succeeded",
        "b succeeded",
    ]
