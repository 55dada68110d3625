"""The edge to AWS: clients, DynamoDB plumbing, table keys, payloads, secrets, Step Functions."""
