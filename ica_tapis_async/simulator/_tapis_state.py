"""Tapis transfer tasks: top task -> one parent per element -> one child per file (API-NOTES A1).

Statuses follow from time, like batches. For a task created at t0 with step s and per-file time f:
the top task and its parents are ACCEPTED for s, then the parents list their source for s
(IN_PROGRESS), are STAGED for s with their children inserted as ACCEPTED, and copy the children
one after another (f each; the parent is IN_PROGRESS again) before COMPLETED. A parent whose source
does not exist fails after the listing (FAILED, or FAILED_OPT for an optional element, which does
not fail the task). A cancel sets the task, parents and children to CANCELLED at once.

Children may be planned to fail (``tapis_retry_rate``, ``tapis_child_fail_rate``): a child is
tried up to ``tapis_max_tries`` times (f each), ``retries`` counting the tries so far. A child that
fails every try is FAILED with an errorMessage naming the file and the reason; its parent fails
with it (FAILED_OPT if optional) and, for a required element, so does the top task, at once.
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
ERR_CHILD = "FILES_TXFR_CHILD_ERROR Transfer of {} failed after {}: {}"
CHILD_REASONS = (
    "Connection reset by peer while reading the source",
    "Permission denied writing the destination",
    "Checksum mismatch after copy",
)
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
    tries: bytearray | None = None  # tries per child; None: one each
    offsets: list[int] | None = None  # tries before child k (len files + 1)
    failed: tuple[int, ...] = ()  # children failing every try, in order

    def child_uuid(self, k: int) -> str:
        """The uuid of child ``k``."""
        return str(uuid.uuid5(uuid.UUID(self.uuid), str(k)))

    def tries_of(self, k: int) -> int:
        """How many tries child ``k`` takes."""
        return 1 if self.tries is None else self.tries[k]

    def offset(self, k: int) -> int:
        """Tries of the children before ``k`` (they are copied one after another)."""
        return k if self.offsets is None else self.offsets[k]

    def plan_children(self, seed: int, retry_rate: float, fail_rate: float, max_tries: int) -> None:
        """Decide, once, which children fail a try and which fail them all."""
        if not (retry_rate or fail_rate) or self.error is not None:
            return
        tries, failed, offsets, total = bytearray(), [], [0], 0
        for k in range(self.files):
            draw = unit_hash(seed, f"child:{self.uuid}:{k}")
            n = 1
            if draw < fail_rate:
                n = max_tries
                failed.append(k)
            elif draw < fail_rate + retry_rate and max_tries > 1:
                # one or two failed tries, then success on a later try
                n = min(max_tries, 2 + (unit_hash(seed, f"again:{self.uuid}:{k}") < 0.3))
            tries.append(n)
            total += n
            offsets.append(total)
        self.tries, self.offsets, self.failed = tries, offsets, tuple(failed)

    def child_error(self, k: int, source: str) -> str:
        """The errorMessage of a child that failed every try."""
        reason = CHILD_REASONS[int(unit_hash(0, f"reason:{self.uuid}:{k}") * len(CHILD_REASONS))]
        tries = self.tries_of(k)
        return ERR_CHILD.format(source, f"{tries} tries" if tries > 1 else "1 try", reason)


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

    def child_fail_time(self, e: Element) -> float | None:
        """When the first child of ``e`` that fails every try gives up (None: none does)."""
        if not e.failed:
            return None
        return self.child_window(e, e.failed[0])[1]

    def parent_end(self, e: Element) -> float:
        """When parent ``e`` reaches its final status."""
        if e.error is not None or e.files == 0:
            return self._listed()
        failed_at = self.child_fail_time(e)
        if failed_at is not None:
            return failed_at
        return self._children_start() + e.offset(e.files) * self.file_s

    def _failure(self, e: Element) -> tuple[float, str] | None:
        """(when, message) if element ``e`` fails the top task."""
        if e.error is not None:
            if not e.optional or e.error.startswith("FILES_TXFR_PARENT_ERROR_TOO_MANY"):
                return self._listed(), e.error
            return None
        failed_at = self.child_fail_time(e)
        if failed_at is None or e.optional:
            return None
        return failed_at, self._child_message(e, e.failed[0])

    def failure(self) -> tuple[float, str] | None:
        """(when, errorMessage) of the top task's failure, the earliest element's."""
        found = [f for f in (self._failure(e) for e in self.elements) if f is not None]
        return min(found) if found else None

    def end_time(self) -> float:
        """When the top task ends (COMPLETED or FAILED) unless cancelled first."""
        failed = self.failure()
        if failed is not None:
            return failed[0]
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
        return "FAILED" if self.failure() is not None else "COMPLETED"

    def parent_status(self, e: Element, now: float) -> str:
        """Parent ``e``'s status at ``now``."""
        if self._cancelled(now):
            return "CANCELLED"
        if now < self.created + self.step:
            return "ACCEPTED"
        if now < self._listed():
            return "IN_PROGRESS"
        failed_at = self.child_fail_time(e)
        if e.error is not None or (failed_at is not None and now >= failed_at):
            return "FAILED_OPT" if e.optional else "FAILED"
        if now >= self.parent_end(e):
            return "COMPLETED"
        return "STAGED" if now < self._children_start() else "IN_PROGRESS"

    def children_exist(self, e: Element, now: float) -> bool:
        """Children are inserted once the listing succeeded (before any cancel)."""
        return e.error is None and self._frozen(now) >= self._listed()

    def child_window(self, e: Element, k: int) -> tuple[float, float]:
        """(start, end) of copying child ``k`` of ``e``, every try included."""
        start = self._children_start() + e.offset(k) * self.file_s
        return start, start + e.tries_of(k) * self.file_s

    def _child_message(self, e: Element, k: int) -> str:
        return e.child_error(k, self._child_source(e, k))

    def _child_source(self, e: Element, k: int) -> str:
        single = e.files == 1 and urlsplit(e.source).scheme in ("http", "https")
        return e.source.split("?", 1)[0] + ("" if single else f"/file_{k:05d}.dat")

    def child_tries(self, e: Element, k: int, now: float) -> int:
        """Tries of child ``k`` of ``e`` begun by ``now`` (the ``retries`` field)."""
        start, _ = self.child_window(e, k)
        t = self._frozen(now)
        if t < start:
            return 0
        if self.file_s <= 0:
            return e.tries_of(k)
        return min(e.tries_of(k), 1 + int((t - start) / self.file_s))

    def child_size(self, e: Element, k: int) -> int:
        """Bytes of file ``k`` of element ``e``."""
        return 1024 + int(unit_hash(self.seed, f"{e.source}#{k}") * 100_000_000)

    def child_state(self, e: Element, k: int, now: float) -> tuple[str, int]:
        """(status, bytesTransferred) of child ``k`` of ``e``."""
        start, end = self.child_window(e, k)
        t, size = self._frozen(now), self.child_size(e, k)
        fails = k in e.failed
        if t <= start:
            moved = 0
        elif t >= end:
            moved = 0 if fails else size
        elif self.file_s <= 0:
            moved = size
        else:  # bytes count from the start of the current try: a failed try starts over
            moved = int(size * ((t - start) % self.file_s) / self.file_s)
        if self._cancelled(now):
            return "CANCELLED", moved
        if t < start:
            return "ACCEPTED", 0
        if t < end:
            return "IN_PROGRESS", moved
        return ("FAILED" if fails else "COMPLETED"), moved

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
        failed = self.failure()
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
            "errorMessage": failed[1] if failed is not None and frozen >= failed[0] else None,
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
            "errorMessage": self._parent_error(e, frozen),
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

    def _parent_error(self, e: Element, frozen: float) -> str | None:
        if e.error is not None:
            return e.error if frozen >= self._listed() else None
        failed_at = self.child_fail_time(e)
        if failed_at is not None and frozen >= failed_at:
            return self._child_message(e, e.failed[0])
        return None

    def child_json(self, e: Element, k: int, now: float, extra: bool) -> dict[str, Any]:
        """A TransferTaskChild (file ``k`` of element ``e``)."""
        status, moved = self.child_state(e, k, now)
        start, end = self.child_window(e, k)
        frozen = self._frozen(now)
        single = e.files == 1 and urlsplit(e.source).scheme in ("http", "https")
        name = "" if single else f"/file_{k:05d}.dat"
        out: dict[str, Any] = {
            "tenantId": self.tenant,
            "username": self.username,
            "sourceURI": self._child_source(e, k),
            "destinationURI": e.destination.rstrip("/") + name,
            "totalBytes": self.child_size(e, k),
            "bytesTransferred": moved,
            "taskId": self.db_id,
            "errorMessage": self._child_message(e, k) if status == "FAILED" else None,
            "parentTaskId": e.db_id,
            "retries": self.child_tries(e, k, now),
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
