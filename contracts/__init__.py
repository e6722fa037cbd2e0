"""What the boundaries promise, in machine-checked form: port conformance suites,
event schemas and the OpenAPI document."""
