"""The Conflux HTTP API: flow definitions, webhooks and executions (``python -m api``)."""
