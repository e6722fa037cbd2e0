"""The outside world: HTTP, CLI, worker, and the composition root that wires them."""
