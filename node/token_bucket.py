"""A token bucket: the one rate limit the node's peer and request handling share.

`rate` tokens come back a second, up to `burst`; `take` spends some if there are
enough. Time is passed in (a monotonic clock's seconds), so callers decide which
clock and tests need none.
"""

from __future__ import annotations


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take` spends `amount` of them."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.at = now

    def take(self, now: float, amount: float = 1.0) -> bool:
        """Spend `amount` tokens if the bucket holds them (refilled to `now` first)."""
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True
