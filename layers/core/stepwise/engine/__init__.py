"""The engine: what each step decides, and the state transitions of runs, nodes and items."""
