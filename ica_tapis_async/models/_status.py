"""Known values of the status and enum fields, as plain string constants.

Status fields in the models are plain ``str``: a value that a newer server adds is kept as it
is, never an error. These classes name the values we know and group them, e.g.::

    if item.processing.status in LinkingItemStatus.FINAL: ...
    ok = item.processing.status in LinkingItemStatus.OK

``ALL`` holds every known value, ``FINAL`` the ones after which nothing changes any more, and
``OK`` the final values that mean success. Test membership, never compare against ``ALL`` to
reject a value: an unknown status is simply "not final yet" as far as a poller is concerned.
"""

from __future__ import annotations

from typing import Final

__all__ = (
    "AnalysisItemStatus",
    "AnalysisStatus",
    "DataTransferDirection",
    "DataTransferStatus",
    "JobStatus",
    "LinkingItemStatus",
    "TransferStatus",
    "UpdateItemStatus",
)


class LinkingItemStatus:
    """``processing.status`` of a data linking batch item.

    V3 item lists never report ``PARTIALLY_LINKED`` (they say ``FAILED``); V4 may add values.
    """

    INITIALISED: Final = "INITIALISED"
    WAITING_RESOURCES: Final = "WAITING_RESOURCES"
    RUNNING: Final = "RUNNING"
    LINKED: Final = "LINKED"
    ALREADY_LINKED: Final = "ALREADY_LINKED"
    FAILED: Final = "FAILED"
    PARTIALLY_LINKED: Final = "PARTIALLY_LINKED"

    ALL: Final = frozenset(
        {INITIALISED, WAITING_RESOURCES, RUNNING, LINKED, ALREADY_LINKED, FAILED, PARTIALLY_LINKED}
    )
    FINAL: Final = frozenset({LINKED, ALREADY_LINKED, FAILED, PARTIALLY_LINKED})
    OK: Final = frozenset({LINKED, ALREADY_LINKED})


class UpdateItemStatus:
    """``processing.status`` of a data update batch item.

    ``PARTIALLY_UPDATED`` is a folder whose contents were only partly updated.
    """

    INITIALISED: Final = "INITIALISED"
    WAITING_RESOURCES: Final = "WAITING_RESOURCES"
    UPDATING: Final = "UPDATING"
    UPDATED: Final = "UPDATED"
    PARTIALLY_UPDATED: Final = "PARTIALLY_UPDATED"
    FAILED: Final = "FAILED"

    ALL: Final = frozenset(
        {INITIALISED, WAITING_RESOURCES, UPDATING, UPDATED, PARTIALLY_UPDATED, FAILED}
    )
    FINAL: Final = frozenset({UPDATED, PARTIALLY_UPDATED, FAILED})
    OK: Final = frozenset({UPDATED})


class AnalysisItemStatus:
    """``processing.status`` of an analysis creation batch item (the creation, not the run)."""

    WAITING_RESOURCES: Final = "WAITING_RESOURCES"
    RUNNING: Final = "RUNNING"
    SUCCEEDED: Final = "SUCCEEDED"
    FAILED: Final = "FAILED"

    ALL: Final = frozenset({WAITING_RESOURCES, RUNNING, SUCCEEDED, FAILED})
    FINAL: Final = frozenset({SUCCEEDED, FAILED})
    OK: Final = frozenset({SUCCEEDED})


class JobStatus:
    """``status`` of the job behind a batch.

    Mind the spelling: jobs say ``INITIALIZED`` / ``WAITING_FOR_RESOURCES`` where batch items say
    ``INITIALISED`` / ``WAITING_RESOURCES``.
    """

    INITIALIZED: Final = "INITIALIZED"
    WAITING_FOR_RESOURCES: Final = "WAITING_FOR_RESOURCES"
    RUNNING: Final = "RUNNING"
    STOPPED: Final = "STOPPED"
    SUCCEEDED: Final = "SUCCEEDED"
    PARTIALLY_SUCCEEDED: Final = "PARTIALLY_SUCCEEDED"
    FAILED: Final = "FAILED"

    ALL: Final = frozenset(
        {
            INITIALIZED,
            WAITING_FOR_RESOURCES,
            RUNNING,
            STOPPED,
            SUCCEEDED,
            PARTIALLY_SUCCEEDED,
            FAILED,
        }
    )
    FINAL: Final = frozenset({STOPPED, SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED})
    OK: Final = frozenset({SUCCEEDED})


class DataTransferStatus:
    """``status`` of an ICA data transfer. ``ABORTREQUESTED`` is on its way to ``ABORTED``."""

    REQUESTED: Final = "REQUESTED"
    ONGOING: Final = "ONGOING"
    SUCCEEDED: Final = "SUCCEEDED"
    FAILED: Final = "FAILED"
    ABORTED: Final = "ABORTED"
    ABORTREQUESTED: Final = "ABORTREQUESTED"
    SCHEDULED: Final = "SCHEDULED"

    ALL: Final = frozenset(
        {REQUESTED, ONGOING, SUCCEEDED, FAILED, ABORTED, ABORTREQUESTED, SCHEDULED}
    )
    FINAL: Final = frozenset({SUCCEEDED, FAILED, ABORTED})
    OK: Final = frozenset({SUCCEEDED})


class DataTransferDirection:
    """``direction`` of an ICA data transfer (not a status: no final or ok subsets)."""

    UPLOAD: Final = "UPLOAD"
    DOWNLOAD: Final = "DOWNLOAD"
    IMPORT: Final = "IMPORT"

    ALL: Final = frozenset({UPLOAD, DOWNLOAD, IMPORT})


class TransferStatus:
    """``status`` of a Tapis transfer task, parent task or child task.

    ``STAGED`` is only seen on parents (their files are listed). ``FAILED_OPT`` marks a failed
    element that was sent with ``optional=True``: it is final for that parent, yet the top task
    carries on and may still end ``COMPLETED``, so it is in :attr:`PARENT_FINAL` but not in
    :attr:`FINAL`. ``PAUSED`` is counted as final by the server although nothing sets it.
    """

    ACCEPTED: Final = "ACCEPTED"
    STAGED: Final = "STAGED"
    IN_PROGRESS: Final = "IN_PROGRESS"
    COMPLETED: Final = "COMPLETED"
    CANCELLED: Final = "CANCELLED"
    FAILED: Final = "FAILED"
    FAILED_OPT: Final = "FAILED_OPT"
    PAUSED: Final = "PAUSED"

    ALL: Final = frozenset(
        {ACCEPTED, STAGED, IN_PROGRESS, COMPLETED, CANCELLED, FAILED, FAILED_OPT, PAUSED}
    )
    FINAL: Final = frozenset({COMPLETED, CANCELLED, FAILED, PAUSED})
    PARENT_FINAL: Final = FINAL | {FAILED_OPT}
    OK: Final = frozenset({COMPLETED})


class AnalysisStatus:
    """``status`` of an analysis or workflow session in the V4 representation (a free string).

    The V3 representation spells three of them differently: ``AWAITINGINPUT``, ``INPROGRESS``
    and ``FAILEDFINAL``; those are not constants here.
    """

    REQUESTED: Final = "REQUESTED"
    QUEUED: Final = "QUEUED"
    INITIALIZING: Final = "INITIALIZING"
    PREPARING_INPUTS: Final = "PREPARING_INPUTS"
    IN_PROGRESS: Final = "IN_PROGRESS"
    GENERATING_OUTPUTS: Final = "GENERATING_OUTPUTS"
    AWAITING_INPUT: Final = "AWAITING_INPUT"
    ABORTING: Final = "ABORTING"
    SUCCEEDED: Final = "SUCCEEDED"
    FAILED: Final = "FAILED"
    FAILED_FINAL: Final = "FAILED_FINAL"
    ABORTED: Final = "ABORTED"

    ALL: Final = frozenset(
        {
            REQUESTED,
            QUEUED,
            INITIALIZING,
            PREPARING_INPUTS,
            IN_PROGRESS,
            GENERATING_OUTPUTS,
            AWAITING_INPUT,
            ABORTING,
            SUCCEEDED,
            FAILED,
            FAILED_FINAL,
            ABORTED,
        }
    )
    FINAL: Final = frozenset({SUCCEEDED, FAILED, FAILED_FINAL, ABORTED})
    OK: Final = frozenset({SUCCEEDED})
