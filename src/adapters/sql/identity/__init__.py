"""The identity system's tables and repositories."""
