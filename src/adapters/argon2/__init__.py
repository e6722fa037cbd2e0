"""Password hashing with argon2id (argon2-cffi)."""
