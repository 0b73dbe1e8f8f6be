"""The Conflux worker: runs flow workflows and the step activities that start containers."""
