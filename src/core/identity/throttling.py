"""Limits on guessing: sign-in, sign-up, password reset and email links.

Sign-in counts *failures*, per account and address pair, per address, and per account:

- the pair limit stops a guesser at a handful of tries without touching the owner, who
  signs in from another address;
- the address limit stops one address from spraying many accounts;
- the account limit (much higher) stops a distributed guess at one account. It is the
  only one an attacker can use against the owner, and only while the attack lasts: the
  windows slide, so no lockout outlives the attack by more than a window.
"""

from __future__ import annotations

from core.identity.tokens import hash_token
from core.kernel import Rate, RateLimitedError, RateLimiter, enforce

SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP = Rate(limit=5, per_seconds=15 * 60)
SIGN_IN_FAILURES_PER_IP = Rate(limit=30, per_seconds=15 * 60)
SIGN_IN_FAILURES_PER_ACCOUNT = Rate(limit=50, per_seconds=60 * 60)
SIGN_UPS_PER_IP = Rate(limit=10, per_seconds=60 * 60)
RESET_REQUESTS_PER_ACCOUNT = Rate(limit=3, per_seconds=60 * 60)
RESET_REQUESTS_PER_IP = Rate(limit=20, per_seconds=60 * 60)
TOKEN_ATTEMPTS_PER_IP = Rate(limit=30, per_seconds=60 * 60)
# A second factor is guessed only by someone who has the password: few tries per account.
TWO_FACTOR_FAILURES_PER_ACCOUNT = Rate(limit=5, per_seconds=15 * 60)
TWO_FACTOR_FAILURES_PER_IP = Rate(limit=20, per_seconds=15 * 60)

SLOW_DOWN = "Too many attempts: wait before trying again."


def _account(email: str) -> str:
    """Keys carry a hash, not the address: the limiter's store need not hold emails."""
    return hash_token(email.strip().lower())[:32]


class IdentityThrottle:
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def check_sign_in(self, email: str, ip: str) -> None:
        """Refuse before checking the password when a failure limit is reached."""
        account = _account(email)
        for key, rate in (
            (f"signin:pair:{account}:{ip}", SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP),
            (f"signin:ip:{ip}", SIGN_IN_FAILURES_PER_IP),
            (f"signin:account:{account}", SIGN_IN_FAILURES_PER_ACCOUNT),
        ):
            decision = await self._limiter.peek(key, rate)
            if not decision.allowed:
                raise RateLimitedError.from_decision(decision, SLOW_DOWN)

    async def sign_in_failed(self, email: str, ip: str) -> None:
        account = _account(email)
        await self._limiter.hit(f"signin:pair:{account}:{ip}", SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP)
        await self._limiter.hit(f"signin:ip:{ip}", SIGN_IN_FAILURES_PER_IP)
        await self._limiter.hit(f"signin:account:{account}", SIGN_IN_FAILURES_PER_ACCOUNT)

    async def sign_up(self, ip: str) -> None:
        await enforce(self._limiter, f"signup:ip:{ip}", SIGN_UPS_PER_IP, detail=SLOW_DOWN)

    async def reset_request(self, email: str, ip: str) -> None:
        await enforce(self._limiter, f"reset:ip:{ip}", RESET_REQUESTS_PER_IP, detail=SLOW_DOWN)
        await enforce(
            self._limiter,
            f"reset:account:{_account(email)}",
            RESET_REQUESTS_PER_ACCOUNT,
            detail=SLOW_DOWN,
        )

    async def token_attempt(self, ip: str) -> None:
        """Email-link tokens are unguessable; this only keeps scanners from hammering."""
        await enforce(self._limiter, f"token:ip:{ip}", TOKEN_ATTEMPTS_PER_IP, detail=SLOW_DOWN)

    def _two_factor_keys(self, user_id: str, ip: str) -> tuple[tuple[str, Rate], ...]:
        keys: tuple[tuple[str, Rate], ...] = ((f"2fa:ip:{ip}", TWO_FACTOR_FAILURES_PER_IP),)
        if user_id:
            keys += ((f"2fa:account:{user_id}", TWO_FACTOR_FAILURES_PER_ACCOUNT),)
        return keys

    async def check_two_factor(self, user_id: str, ip: str) -> None:
        """Refuse before checking a second factor (or a password confirming a 2FA
        change) when a failure limit is reached. ``user_id`` empty: the address only."""
        for key, rate in self._two_factor_keys(user_id, ip):
            decision = await self._limiter.peek(key, rate)
            if not decision.allowed:
                raise RateLimitedError.from_decision(decision, SLOW_DOWN)

    async def two_factor_failed(self, user_id: str, ip: str) -> None:
        for key, rate in self._two_factor_keys(user_id, ip):
            await self._limiter.hit(key, rate)
