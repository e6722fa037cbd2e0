"""HTTP routes of the workflows system."""
