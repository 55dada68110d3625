"""A smoke test of a running Stepwise stack over its HTTP API (``make smoke``)."""
