"""Webhook deliveries: Standard Webhooks signing, the SSRF guard, and reading a response."""
