"""Benchmarks reported as ratios against references measured in the same run.

``python -m bench`` (``make bench``) runs ``health_live`` (the full app's live probe
against a bare Litestar app served the same way) and ``me`` (an authenticated
``GET /api/v1/me`` against the live probe of the same server, on SQLite and PostgreSQL).
"""
