"""TOTP (RFC 6238) with pyotp."""
