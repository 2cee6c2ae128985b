"""How often a receiver is tried: exponential backoff with jitter, and rate limits."""

from __future__ import annotations

import random
import time

from monitor.config import DeliveryConfig


def backoff(attempt: int, config: DeliveryConfig, rng: random.Random | None = None) -> float:
    """Delay before retry ``attempt`` (1-based): exponential, jitter in the upper half."""
    ceiling = min(config.max_backoff, config.backoff * 2 ** min(attempt - 1, 30))
    return float(ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


class RateLimit:
    """A token bucket: at most ``count`` sends per ``per`` seconds."""

    def __init__(self, count: int, per: float) -> None:
        self.count, self.per = count, per
        self._tokens = float(count)
        self._at = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self._tokens = min(self.count, self._tokens + (now - self._at) * self.count / self.per)
        self._at = now
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) * self.per / self.count

    def take(self) -> None:
        self._tokens -= 1
