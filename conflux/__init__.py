"""The wiring every Conflux process shares (worker, API, CLI): settings, the Temporal connection
with its data converter, and the store for payloads too large for Temporal's history."""
