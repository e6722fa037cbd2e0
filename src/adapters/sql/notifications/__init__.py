"""The notifications system's tables and the mail outbox (the embedded email adapter)."""
