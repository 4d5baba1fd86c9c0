"""SimState: everything one simulator instance knows, shared by its request handlers."""

from __future__ import annotations

import random
import uuid

from ._auth import JwtIssuer
from ._batch_state import Batch, settle
from ._clock import SimClock
from ._config import SimulatorConfig
from ._data_state import DataStore
from ._faults import FaultInjector
from ._idempotency import IdempotencyStore
from ._paging import approximate_count
from ._payloads import Payloads
from ._ratelimit import RateLimiter
from ._stats import SimulatorStats
from ._tapis_state import Task
from ._transfer_state import TransferBook

__all__ = ("SimState",)


class SimState:
    """The mutable state of one simulator: config, clock, stores, counters.

    Handlers run on one event loop, so no locking is needed; ``configure`` swaps the config
    object atomically.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clock = SimClock(config.time_scale)
        self.epoch = self.clock.now()
        self.stats = SimulatorStats()
        self.store = DataStore(lambda: self.config)
        self.payloads = Payloads(config.seed, self.epoch, self.store)
        self.transfers = TransferBook(config.seed, self.epoch, self.payloads)
        self.batches: dict[str, Batch] = {}
        self.unsettled: list[Batch] = []
        self.tapis_tasks: dict[str, Task] = {}
        self.tapis_next_id = 1
        self.idempotency = IdempotencyStore()
        self.limiter = RateLimiter()
        self.faults = FaultInjector(config.seed)
        self.issuer = JwtIssuer(config.seed)
        self._ids = random.Random(f"{config.seed}:ids")
        self._noise = random.Random(f"{config.seed}:noise")

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self.clock.now()

    def new_uuid(self) -> str:
        """A random-looking uuid4, deterministic for a given seed and request order."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def approximate(self, exact: int) -> int | None:
        """``remainingRecords`` for a page whose true count is ``exact`` (see ``count_error``)."""
        config = self.config
        counted = approximate_count(
            exact, self._noise, error=config.count_error, absent_rate=config.count_absent_rate
        )
        if counted != exact:
            self.stats.counts_skewed += 1
        return counted

    def noise(self) -> random.Random:
        """The seeded random source of the simulator's imperfections (counts, unknown fields)."""
        return self._noise

    def configure(self, config: SimulatorConfig) -> None:
        """Switch to ``config`` (time scale and fault seed follow)."""
        if config.time_scale != self.config.time_scale:
            self.clock.set_scale(config.time_scale)
        if config.seed != self.config.seed:
            self.faults.reseed(config.seed)
        self.config = config

    def settle(self) -> None:
        """Apply finished linking/update items (lazily, before each request)."""
        if not self.unsettled:
            return
        settle(self.unsettled, self.store, self.now())
        self.unsettled = [b for b in self.unsettled if not b.settled]
