"""HTTP routes of the identity system."""
