"""The billing system's routes."""
