"""Conformance suites: one pytest class per port. An adapter proves itself by
subclassing the class in a test module and providing the fixtures its docstring names."""
