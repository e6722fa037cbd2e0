"""The workflows system's tables and stores."""
