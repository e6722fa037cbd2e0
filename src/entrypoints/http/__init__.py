"""The HTTP entrypoint: a Litestar app on msgspec, served by granian."""
