"""Seeded fault injection: 5xx answers, dropped connections, slow answers, latency."""

from __future__ import annotations

import random
from typing import Literal

from ._config import SimulatorConfig

__all__ = ("FaultInjector", "PreFault")

PreFault = Literal["drop_before", "500", "503"]


class FaultInjector:
    """Decides, request by request, which fault to inject; seeded RNGs make runs repeatable.

    Each operation draws from its own sequence, so the n-th request of an operation meets the
    same fault in every run with the same seed, however a concurrent client interleaves its
    requests to other operations.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rngs: dict[str, random.Random] = {}

    def reseed(self, seed: int) -> None:
        """Restart every random sequence from ``seed``."""
        self._seed = seed
        self._rngs.clear()

    def _rng(self, operation: str) -> random.Random:
        rng = self._rngs.get(operation)
        if rng is None:
            rng = self._rngs[operation] = random.Random(f"{self._seed}:{operation}")
        return rng

    @staticmethod
    def _applies(config: SimulatorConfig, operation: str) -> bool:
        return config.fault_operations is None or operation in config.fault_operations

    def before(self, config: SimulatorConfig, operation: str) -> PreFault | None:
        """A fault that replaces processing: a dropped connection or a 500/503 answer."""
        if not self._applies(config, operation):
            return None
        roll = self._rng(operation).random()
        for kind, p in (
            ("drop_before", config.p_drop_before),
            ("500", config.p_500),
            ("503", config.p_503),
        ):
            if roll < p:
                return kind  # type: ignore[return-value]
            roll -= p
        return None

    def delay(self, config: SimulatorConfig, operation: str) -> tuple[float, bool]:
        """(seconds to wait before answering, whether this answer is a "slow" fault)."""
        wait = config.latency_s
        if config.latency_jitter_s:
            wait += self._rng(operation).uniform(0.0, config.latency_jitter_s)
        slow = bool(
            config.p_slow
            and self._applies(config, operation)
            and self._rng(operation).random() < config.p_slow
        )
        if slow:
            wait += config.slow_s
        return wait, slow

    def drop_after(self, config: SimulatorConfig, operation: str) -> bool:
        """Whether to drop the connection after a POST was processed."""
        return bool(
            config.p_drop_after_post
            and self._applies(config, operation)
            and self._rng(operation).random() < config.p_drop_after_post
        )
