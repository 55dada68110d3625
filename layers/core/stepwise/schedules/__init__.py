"""Schedules: expressions, the Scheduler bridge, and what a firing starts."""
