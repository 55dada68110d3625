"""The local stack: template.yaml provisioned into moto, handlers in-process, API on 127.0.0.1."""
