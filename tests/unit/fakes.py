"""Test doubles shared by the unit tests."""

from __future__ import annotations

import anyio.lowlevel


class FakeClock:
    """A clock that only moves when someone sleeps on it (or a test advances it).

    Call it for the time; pass ``clock.sleep`` as the injected sleep; ``sleeps`` records every
    requested delay.
    """

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()
