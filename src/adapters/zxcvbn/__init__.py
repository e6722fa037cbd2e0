"""Password strength with zxcvbn (its frequency lists and guess estimator)."""
