"""Temporal workflows: thin, deterministic orchestration of flow steps."""
