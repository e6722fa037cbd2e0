"""The testing harness: a pytest plugin with fixtures for a fork's own tests.

Enable it with ``-p entrypoints.testing.plugin`` (ninefold's pyproject does).
"""
