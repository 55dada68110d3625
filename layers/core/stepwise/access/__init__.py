"""Who may call: API keys, their hashes and scopes, signed cursors."""
