"""Tapis transfer tasks: top task -> one parent per element -> one child per file (API-NOTES A1).

Statuses follow from time, like batches. For a task created at t0 with step s and per-file time f:
the top task and its parents are ACCEPTED for s, then the parents list their source for s
(IN_PROGRESS), are STAGED for s with their children inserted as ACCEPTED, and copy the children
one after another (f each; the parent is IN_PROGRESS again) before COMPLETED. A parent whose source
does not exist fails after the listing (FAILED, or FAILED_OPT for an optional element, which does
not fail the task). A cancel sets the task, parents and children to CANCELLED at once.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from ._clock import tapis_time
from ._data_state import unit_hash

__all__ = ("Element", "Task")

ERR_NOT_FOUND = "FILES_TXFR_PARENT_ERROR Source path not found: {}"
ERR_TOO_MANY = (
    "FILES_TXFR_PARENT_ERROR_TOO_MANY_FILES Too many files for a single transfer: {} > {}"
)


def file_count(source: str, seed: int) -> int:
    """Files under ``source``: a ``files=N`` query hint, one for http(s), else 1-4 by hash."""
    parts = urlsplit(source)
    hint = parse_qs(parts.query).get("files")
    if hint and hint[0].isdigit():  # a malformed hint counts as no hint
        return int(hint[0])
    if parts.scheme in ("http", "https"):
        return 1
    return 1 + int(unit_hash(seed, "files:" + source) * 4)


@attrs.define(eq=False)
class Element:
    """One request element = one parent task."""

    db_id: int
    uuid: str
    source: str
    destination: str
    optional: bool
    transfer_type: str | None
    files: int
    error: str | None

    def child_uuid(self, k: int) -> str:
        """The uuid of child ``k``."""
        return str(uuid.uuid5(uuid.UUID(self.uuid), str(k)))


@attrs.define(eq=False)
class Task:
    """One transfer task and its planned life."""

    db_id: int
    uuid: str
    username: str
    tenant: str
    tag: str | None
    created: float
    step: float
    file_s: float
    seed: int
    elements: list[Element]
    cancelled_at: float | None = None

    # --- timeline ------------------------------------------------------------------------------
    def _listed(self) -> float:
        return self.created + 2 * self.step

    def _children_start(self) -> float:
        return self.created + 3 * self.step

    def parent_end(self, e: Element) -> float:
        """When parent ``e`` reaches its final status."""
        if e.error is not None or e.files == 0:
            return self._listed()
        return self._children_start() + e.files * self.file_s

    def _fails_task(self, e: Element) -> bool:
        return e.error is not None and (
            not e.optional or e.error.startswith("FILES_TXFR_PARENT_ERROR_TOO_MANY")
        )

    def end_time(self) -> float:
        """When the top task ends (COMPLETED or FAILED) unless cancelled first."""
        if any(self._fails_task(e) for e in self.elements):
            return self._listed()
        return max(self.parent_end(e) for e in self.elements)

    def _cancelled(self, now: float) -> bool:
        return self.cancelled_at is not None and now >= self.cancelled_at

    def _frozen(self, now: float) -> float:
        """Progress stops at the cancel."""
        return min(now, self.cancelled_at) if self.cancelled_at is not None else now

    def status(self, now: float) -> str:
        """The top task's status at ``now``."""
        if self._cancelled(now):
            return "CANCELLED"
        if now < self.created + self.step:
            return "ACCEPTED"
        if now < self.end_time():
            return "IN_PROGRESS"
        return "FAILED" if any(self._fails_task(e) for e in self.elements) else "COMPLETED"

    def parent_status(self, e: Element, now: float) -> str:
        """Parent ``e``'s status at ``now``."""
        if self._cancelled(now):
            return "CANCELLED"
        if now < self.created + self.step:
            return "ACCEPTED"
        if now < self._listed():
            return "IN_PROGRESS"
        if e.error is not None:
            return "FAILED_OPT" if e.optional else "FAILED"
        if now >= self.parent_end(e):
            return "COMPLETED"
        return "STAGED" if now < self._children_start() else "IN_PROGRESS"

    def children_exist(self, e: Element, now: float) -> bool:
        """Children are inserted once the listing succeeded (before any cancel)."""
        return e.error is None and self._frozen(now) >= self._listed()

    def child_window(self, k: int) -> tuple[float, float]:
        """(start, end) of copying child ``k``."""
        start = self._children_start() + k * self.file_s
        return start, start + self.file_s

    def child_size(self, e: Element, k: int) -> int:
        """Bytes of file ``k`` of element ``e``."""
        return 1024 + int(unit_hash(self.seed, f"{e.source}#{k}") * 100_000_000)

    def child_state(self, e: Element, k: int, now: float) -> tuple[str, int]:
        """(status, bytesTransferred) of child ``k`` of ``e``."""
        start, end = self.child_window(k)
        t, size = self._frozen(now), self.child_size(e, k)
        moved = 0 if t <= start else size if t >= end else int(size * (t - start) / (end - start))
        if self._cancelled(now):
            return "CANCELLED", moved
        if t < start:
            return "ACCEPTED", 0
        return ("IN_PROGRESS" if t < end else "COMPLETED"), moved

    # --- JSON ----------------------------------------------------------------------------------
    def _stamp(self, ts: float | None, now: float) -> str | None:
        return tapis_time(ts) if ts is not None and ts <= now else None

    def summary(self, now: float) -> tuple[int, int, int, int]:
        """(totalTransfers, completeTransfers, estimatedTotalBytes, totalBytesTransferred)."""
        total = complete = size = moved = 0
        for e in self.elements:
            if not self.children_exist(e, now):
                continue
            for k in range(e.files):
                status, done = self.child_state(e, k, now)
                total += 1
                complete += status == "COMPLETED"
                size += self.child_size(e, k)
                moved += done
        return total, complete, size, moved

    def to_json(self, now: float, *, summary: bool, parents: bool, extra: bool) -> dict[str, Any]:
        """The TransferTask object; summary numbers are 0 unless ``summary``."""
        status = self.status(now)
        frozen = self._frozen(now)
        total, complete, size, moved = self.summary(now) if summary else (0, 0, 0, 0)
        failing = next((e.error for e in self.elements if self._fails_task(e)), None)
        out: dict[str, Any] = {
            "username": self.username,
            "tenantId": self.tenant,
            "tag": self.tag,
            "uuid": self.uuid,
            "status": status,
            "parentTasks": [self.parent_json(e, now, extra) for e in self.elements]
            if parents
            else None,
            "estimatedTotalBytes": size,
            "totalBytesTransferred": moved,
            "totalTransfers": total,
            "completeTransfers": complete,
            "errorMessage": failing if frozen >= self._listed() else None,
            "created": tapis_time(self.created),
            "startTime": self._stamp(self.created + self.step, frozen),
            # a cancel leaves endTime as it was: set only if the task ended before it
            "endTime": self._stamp(self.end_time(), frozen),
        }
        if extra:
            out["id"] = self.db_id
        return out

    def parent_json(self, e: Element, now: float, extra: bool) -> dict[str, Any]:
        """A TransferTaskParent with its children."""
        status = self.parent_status(e, now)
        frozen = self._frozen(now)
        children = (
            [self.child_json(e, k, now, extra) for k in range(e.files)]
            if self.children_exist(e, now)
            else []
        )
        out: dict[str, Any] = {
            "tenantId": self.tenant,
            "username": self.username,
            "sourceURI": e.source,
            "destinationURI": e.destination,
            "totalBytes": sum(c["totalBytes"] for c in children),
            "bytesTransferred": sum(c["bytesTransferred"] for c in children),
            "taskId": self.db_id,
            "children": children,
            "errorMessage": e.error if frozen >= self._listed() else None,
            "uuid": e.uuid,
            "status": status,
            "created": tapis_time(self.created),
            "startTime": self._stamp(self.created + self.step, frozen),
            "endTime": self._stamp(self.parent_end(e), frozen),
        }
        if extra:
            out.update(
                id=e.db_id,
                optional=e.optional,
                transferType=e.transfer_type or "TRANSFER",
                finalMessage=None,
            )
        return out

    def child_json(self, e: Element, k: int, now: float, extra: bool) -> dict[str, Any]:
        """A TransferTaskChild (file ``k`` of element ``e``)."""
        status, moved = self.child_state(e, k, now)
        start, end = self.child_window(k)
        frozen = self._frozen(now)
        single = e.files == 1 and urlsplit(e.source).scheme in ("http", "https")
        name = "" if single else f"/file_{k:05d}.dat"
        out: dict[str, Any] = {
            "tenantId": self.tenant,
            "username": self.username,
            "sourceURI": e.source.split("?", 1)[0] + name,
            "destinationURI": e.destination.rstrip("/") + name,
            "totalBytes": self.child_size(e, k),
            "bytesTransferred": moved,
            "taskId": self.db_id,
            "errorMessage": None,
            "parentTaskId": e.db_id,
            "retries": 1 if frozen >= start else 0,
            "dir": False,
            "uuid": e.child_uuid(k),
            "status": status,
            "created": tapis_time(self.created + 2 * self.step),
            "startTime": self._stamp(start, frozen),
            "endTime": self._stamp(end, frozen),
        }
        if extra:
            out["id"] = e.db_id * 100_000 + k
        return out
