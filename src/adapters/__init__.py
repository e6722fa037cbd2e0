"""Implementations of core's ports: SQL, embedded defaults, providers and fakes."""
