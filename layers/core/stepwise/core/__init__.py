"""Shared ground: ids, time, errors, statuses, settings, observability."""
