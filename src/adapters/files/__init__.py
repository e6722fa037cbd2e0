"""Adapters on the local filesystem (standard library only)."""
