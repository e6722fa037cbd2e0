"""The billing system's SQL adapters."""
