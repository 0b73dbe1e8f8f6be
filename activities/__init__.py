"""Temporal activities: where the side effects (containers, mappings) happen."""
