"""An embedded ICA + Tapis Files server that behaves like the real services.

``async with Simulator() as sim:`` serves ICA at ``sim.ica_url`` (``.../ica/rest``) and Tapis at
``sim.tapis_url`` on 127.0.0.1: the 15 ICA batch/transfer/token operations and the 5 Tapis
transfer operations, with v3/v4 content negotiation, Problem and envelope errors, batches that
progress over time, cursor and offset paging, the Idempotency-Key store, auth checks, and knobs
for latency, rate limits and faults (see :class:`SimulatorConfig`). ``sim.stats`` counts what
happened so tests can prove exactly-once behaviour. ``python -m ica_tapis_async.simulator``
runs it standalone; the pytest plugin offers it as the ``ica_simulator`` fixture.
"""

from ._config import SimulatorConfig
from ._server import Simulator
from ._stats import SimulatorStats

__all__ = ("Simulator", "SimulatorConfig", "SimulatorStats")
