"""Batches: one run per input, started in the background and counted."""
