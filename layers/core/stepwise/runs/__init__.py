"""Runs: starting, reading, listing, history, logs, node events, external runs, cancel."""
