"""The ``ninefold`` command line. Exit codes: 0 success, 1 failure, 2 usage error,
78 configuration error (sysexits EX_CONFIG)."""

from entrypoints.cli.main import main

__all__ = ["main"]
