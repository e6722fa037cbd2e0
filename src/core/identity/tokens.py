"""Opaque secret tokens (sessions, email links, API keys): random, shown once, stored
only as a SHA-256 hash. A token carries a short prefix naming its kind, so a leaked one
is recognisable (and secret scanners can be taught the pattern)."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token(prefix: str) -> str:
    """``<prefix>_<43 url-safe characters>``: 256 bits of randomness."""
    return f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def hash_token(token: str) -> str:
    """The stored form. Tokens are high-entropy, so an unsalted fast hash is enough:
    what matters is that the database alone cannot be used to sign in."""
    return hashlib.sha256(token.encode()).hexdigest()
