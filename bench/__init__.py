"""Benchmarks reported as ratios against baselines measured in the same run.

``python -m bench`` (``make bench``) serves the full app and a bare Litestar app the
same way, loads both with the same generator and reports the throughput ratio.
"""
