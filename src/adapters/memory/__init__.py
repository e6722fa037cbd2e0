"""In-memory fakes of core's ports: for unit tests and for forks' own tests.

They keep state in plain Python objects, pass the same conformance suites as the real
adapters, and never touch I/O.
"""
