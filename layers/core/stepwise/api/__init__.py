"""The HTTP API (FastAPI): org-scoped routers, auth, and the mapping of domain errors."""
