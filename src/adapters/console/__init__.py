"""Adapters that write to the developer's terminal. Standard library only."""
