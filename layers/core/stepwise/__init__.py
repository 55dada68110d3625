"""Stepwise: the workflow-run domain shared by every Lambda function (the core layer)."""
