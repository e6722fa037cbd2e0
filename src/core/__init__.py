"""The domain ring: models, state machines, ports and use cases. Pure Python."""
