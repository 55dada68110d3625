"""Workflow definitions: their schemas, graph rules and versions."""
