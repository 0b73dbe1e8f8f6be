"""``conflux``: a thin command-line client over the HTTP API, for flows kept as files (docs/cli.md)."""
