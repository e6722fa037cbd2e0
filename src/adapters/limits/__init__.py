"""``RateLimiter`` on the ``limits`` package: sliding-window counter, in process memory or
in Redis (through ``coredis``) when several processes must share the counts."""
