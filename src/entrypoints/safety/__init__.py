"""The safety system's runtime wiring: the snapshot poller the app and the worker run."""
