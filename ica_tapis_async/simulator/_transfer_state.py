"""ICA data transfers: per-project seeded transfers that progress over time, and abort.

Each project gets ``transfers_per_project`` transfers the first time it is looked at, drawn from
a RNG seeded by (seed, project id): a third already finished, a third that finish within about
``transfer_duration_s``, a third long-running (so there is always something to abort).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import attrs

from ._clock import ica_time
from ._payloads import Payloads

__all__ = ("DIRECTIONS", "SORT_FIELDS", "STATUSES", "Transfer", "TransferBook")

DIRECTIONS = ("UPLOAD", "DOWNLOAD", "IMPORT")
STATUSES = ("REQUESTED", "ONGOING", "SUCCEEDED", "FAILED", "ABORTED", "ABORTREQUESTED", "SCHEDULED")
FINISHED = frozenset({"SUCCEEDED", "FAILED", "ABORTED"})
SORT_FIELDS = (
    "reference",
    "direction",
    "connector",
    "protocol",
    "dataTransferred",
    "status",
    "statusMessage",
    "duration",
)
_MESSAGES = {
    "REQUESTED": "The transfer is requested and waits for the connector.",
    "SCHEDULED": "The transfer is scheduled.",
    "ONGOING": "The transfer is in progress.",
    "SUCCEEDED": "The transfer completed successfully.",
    "FAILED": "The transfer failed: the connection to the connector was lost.",
    "ABORTREQUESTED": "An abort was requested; waiting for the connector to stop.",
    "ABORTED": "The transfer was aborted by the user.",
}


@attrs.define(eq=False)
class Transfer:
    """One ICA data transfer and its planned life (status at any time follows from it)."""

    id: str
    project_id: str
    index: int
    reference: str
    direction: str
    connector: int | None
    created: float
    start: float
    end: float
    final: str
    initial: str
    size: int
    data_id: str
    abort_at: float | None = None
    abort_done: float | None = None

    def status(self, now: float) -> str:
        """The status at ``now``."""
        if self.abort_at is not None and now >= self.abort_at:
            return (
                "ABORTED"
                if self.abort_done is not None and now >= self.abort_done
                else "ABORTREQUESTED"
            )
        if now < self.start:
            return self.initial
        return "ONGOING" if now < self.end else self.final

    def transferred(self, now: float) -> int:
        """Bytes moved by ``now`` (frozen once an abort is requested)."""
        t = min(now, self.abort_at) if self.abort_at is not None else now
        if t <= self.start:
            return 0
        if t >= self.end:
            return self.size if self.final == "SUCCEEDED" else int(self.size * 0.4)
        return int(self.size * (t - self.start) / (self.end - self.start))

    def modified(self, now: float) -> float:
        """When the status last changed."""
        moments = [self.created, self.start, self.end, self.abort_at or 0.0, self.abort_done or 0.0]
        return max(m for m in moments if m <= now)

    def duration(self, now: float) -> int | None:
        """Whole seconds spent transferring so far; None before the start."""
        if now < self.start:
            return None
        stop = min(now, self.end, self.abort_at if self.abort_at is not None else now)
        return max(0, int(stop - self.start))


class TransferBook:
    """The transfers of every project, seeded lazily."""

    def __init__(self, seed: int, epoch: float, payloads: Payloads) -> None:
        self._seed = seed
        self._epoch = epoch
        self._payloads = payloads
        self._projects: dict[str, list[Transfer]] = {}

    def project(self, project_id: str, count: int, duration: float) -> list[Transfer]:
        """The transfers of ``project_id`` in creation order, seeding them on first use."""
        found = self._projects.get(project_id)
        if found is None:
            found = self._projects[project_id] = self._seed_project(project_id, count, duration)
        return found

    def _seed_project(self, project_id: str, count: int, duration: float) -> list[Transfer]:
        rng = random.Random(f"{self._seed}:transfers:{project_id}")
        epoch, out = self._epoch, []
        for index in range(count):
            kind = index % 3
            if kind == 0:  # finished long ago
                start = epoch - rng.uniform(3600, 30 * 86400)
                end = start + rng.uniform(60, 3600)
                final = rng.choice(("SUCCEEDED", "SUCCEEDED", "FAILED", "ABORTED"))
            elif kind == 1:  # finishes soon
                start = epoch + rng.uniform(0, duration / 2)
                end = start + rng.uniform(0.5, 1.5) * duration
                final = "SUCCEEDED" if rng.random() < 0.8 else "FAILED"
            else:  # long-running: always something to abort
                start = epoch - rng.uniform(1, 60)
                end = epoch + max(3600.0, 100 * duration)
                final = "SUCCEEDED"
            direction = rng.choice(DIRECTIONS)
            suffix = "".join(rng.choice("0123456789abcdef") for _ in range(24))
            out.append(
                Transfer(
                    id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    project_id=project_id,
                    index=index,
                    reference=f"{direction.lower()}-sample_{suffix[:12]}.fastq.gz",
                    direction=direction,
                    connector=None if direction == "IMPORT" else rng.randrange(2),
                    created=min(start, epoch) - rng.uniform(1, 60),
                    start=start,
                    end=end,
                    final=final,
                    initial=rng.choice(("REQUESTED", "SCHEDULED")),
                    size=rng.randrange(1_000_000, 20_000_000_000),
                    data_id="fil." + suffix,
                )
            )
        return out

    def connector(self, project_id: str, index: int) -> dict[str, Any]:
        """Connector ``index`` (0 or 1) of a project."""
        p = self._payloads
        cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._seed}:connector:{project_id}:{index}"))
        stamp = ica_time(self._epoch - 90 * 86400)
        return {
            "id": cid,
            "timeCreated": stamp,
            "timeModified": stamp,
            "ownerId": p.admin_id,
            "tenantId": p.tenant_id,
            "tenantName": p.tenant_name,
            "code": f"lab-connector-{index + 1}",
            "active": True,
            "connected": index == 0,
            "technicalCode": f"sc-{cid[:8]}",
            "initializationKey": None,
            "description": "Service Connector on the sequencing lab server",
            "mode": "BOTH" if index == 0 else "UPLOAD",
            "maxBandwidth": 100.0,
            "maxConcurrentTransfers": 4,
            "os": "LINUX",
            "installationStatus": "INSTALLED",
            "newConnectorVersionAvailable": index == 1,
        }

    def to_json(self, transfer: Transfer, now: float) -> dict[str, Any]:
        """The DataTransfer object at ``now``."""
        p = self._payloads
        status = transfer.status(now)
        out: dict[str, Any] = {
            "id": transfer.id,
            "timeCreated": ica_time(transfer.created),
            "timeModified": ica_time(transfer.modified(now)),
            "ownerId": p.admin_id,
            "tenantId": p.tenant_id,
            "tenantName": p.tenant_name,
            "reference": transfer.reference,
            "direction": transfer.direction,
            "protocol": "HTTPS" if transfer.connector is None else None,
            "dataTransferred": transfer.transferred(now),
            "status": status,
            "statusMessage": _MESSAGES[status],
            "duration": transfer.duration(now),
            "project": p.project(transfer.project_id),
            "data": p.data(transfer.data_id),
        }
        if transfer.connector is not None:
            out["connector"] = self.connector(transfer.project_id, transfer.connector)
        return out

    def sort_key(self, transfer: Transfer, *, field: str, now: float) -> Any:
        """The value of ``field`` used by ``sort`` (None sorts first)."""
        value: Any
        if field == "connector":
            value = (
                None if transfer.connector is None else f"lab-connector-{transfer.connector + 1}"
            )
        elif field == "protocol":
            value = "HTTPS" if transfer.connector is None else None
        elif field == "dataTransferred":
            value = transfer.transferred(now)
        elif field == "status":
            value = transfer.status(now)
        elif field == "statusMessage":
            value = _MESSAGES[transfer.status(now)]
        elif field == "duration":
            value = transfer.duration(now)
        else:
            value = getattr(transfer, field)
        return (value is not None, value if value is not None else 0)
