"""Platform side of the step protocol (docs/step-protocol.md): run a step's container and read what it emitted."""
