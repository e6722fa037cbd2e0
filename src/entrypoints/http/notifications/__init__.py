"""The notifications system's routes."""
