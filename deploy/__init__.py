"""Running Conflux on one machine: the local stack, Docker and base-image setup, the demo endpoints."""
