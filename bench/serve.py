"""Serve one ASGI factory target with granian, as ``ninefold serve`` does.

``python -m bench.serve TARGET --port N``. The Granian arguments mirror ``cmd_serve`` in
``src/entrypoints/cli/main.py`` (ASGI interface, factory, one worker, the default loop,
no access log); both benchmarked servers are started through this module so that the
server side is identical and only the app differs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from granian import Granian
from granian.constants import Interfaces


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve until terminated."""
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("target", help="factory target, e.g. bench.baseline:create")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    Granian(
        args.target,
        factory=True,
        address=args.host,
        port=args.port,
        workers=args.workers,
        interface=Interfaces.ASGI,
        log_enabled=True,
        log_level=args.log_level,
        log_access=False,
    ).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
