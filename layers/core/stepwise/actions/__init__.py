"""Actions: definitions, credentials and destinations, records, webhook delivery and signals."""
