"""item_outcomes: a pending item of a stopped job is in doubt only when its chunk was sent more
than once and carries no key (links, updates)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ica_tapis_async.orchestrator._outcomes import item_outcomes
from ica_tapis_async.orchestrator._plan import Chunk, Kind
from ica_tapis_async.orchestrator._report import ItemOutcome

STOPPED = "The job was stopped before this item was processed."


def outcome(kind: Kind, status: str, *, resubmitted: bool, job_final: bool = True) -> ItemOutcome:
    """The one outcome of a one-item chunk whose item the server shows in ``status``."""
    item = SimpleNamespace(
        id="item-1",
        processing=SimpleNamespace(status=status, additional_status_information=STOPPED),
    )
    chunk = Chunk(index=3, keys=["k"], body=None, digest="d")
    [result] = item_outcomes(
        kind, chunk, "batch-9", {"k": item}, resubmitted=resubmitted, job_final=job_final
    )
    return result


@pytest.mark.parametrize(
    ("kind", "pending"), [("link", "WAITING_RESOURCES"), ("update", "UPDATING")]
)
def test_pending_and_resubmitted_is_in_doubt_with_the_reason(kind: Kind, pending: str) -> None:
    result = outcome(kind, pending, resubmitted=True)
    assert result.status == "IN_DOUBT"
    assert not result.ok
    info = result.info or ""
    assert "batch-9" in info
    assert STOPPED in info
    assert "sent more than once" in info


def test_pending_and_sent_once_keeps_the_servers_status() -> None:
    result = outcome("link", "WAITING_RESOURCES", resubmitted=False)
    assert (result.status, result.info) == ("WAITING_RESOURCES", STOPPED)


def test_a_keyed_analysis_keeps_the_servers_status() -> None:
    result = outcome("analysis", "WAITING_RESOURCES", resubmitted=True)
    assert result.status == "WAITING_RESOURCES"


def test_a_final_status_stays_what_the_server_says() -> None:
    result = outcome("link", "LINKED", resubmitted=True)
    assert (result.status, result.ok) == ("LINKED", True)


def test_a_running_job_leaves_it_unknown_for_now() -> None:
    result = outcome("link", "WAITING_RESOURCES", resubmitted=True, job_final=False)
    assert result.status == "UNKNOWN"


def test_a_status_this_library_does_not_know_is_kept() -> None:
    result = outcome("link", "QUARANTINED", resubmitted=True)
    assert result.status == "QUARANTINED"
