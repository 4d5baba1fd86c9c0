"""Pins of the outcome builder (orchestrator/_outcomes.py): every field of every outcome.

Whole :class:`ItemOutcome` values are compared, so a field dropped, swapped or defaulted shows.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ica_tapis_async.orchestrator._outcomes import chunk_outcomes, item_key, item_outcomes
from ica_tapis_async.orchestrator._plan import Chunk, Kind
from ica_tapis_async.orchestrator._report import ItemOutcome
from ica_tapis_async.orchestrator._views import ItemView


def server_item(
    status: str, *, info: str | None = None, item_id: str = "i-1", analysis: str | None = None
) -> Any:
    """A server item as the outcome builder reads it (status, info, id, created analysis)."""
    item = SimpleNamespace(
        id=item_id,
        processing=SimpleNamespace(status=status, additional_status_information=info),
    )
    if analysis is not None:
        item.created_analysis = SimpleNamespace(id=analysis)
    return item


CHUNK = Chunk(index=7, keys=["a", "b"], body=None, digest="d", duplicates=["a2"])


def test_item_key_is_the_user_reference_for_analyses_and_the_data_id_otherwise() -> None:
    request = SimpleNamespace(user_reference="ref-1", data_id="fil.1")
    view: Any = SimpleNamespace(request=request)
    assert item_key("analysis", view) == "ref-1"
    assert item_key("link", view) == "fil.1"
    assert item_key("update", view) == "fil.1"
    numeric: ItemView = SimpleNamespace(request=SimpleNamespace(data_id=12))  # type: ignore[assignment]
    assert item_key("link", numeric) == "12"


@pytest.mark.parametrize("resubmitted", [True, False])
def test_chunk_outcomes_give_every_key_and_duplicate_the_same_outcome(resubmitted: bool) -> None:
    outcomes = chunk_outcomes(
        "link", CHUNK, "REJECTED", "why", resubmitted=resubmitted, batch_id="b-1"
    )
    assert outcomes == [
        ItemOutcome(
            kind="link",
            key=key,
            status="REJECTED",
            ok=False,
            info="why",
            batch_id="b-1",
            chunk=7,
            resubmitted=resubmitted,
        )
        for key in ["a", "b", "a2"]
    ]


def test_chunk_outcomes_without_a_batch_have_none() -> None:
    [one] = chunk_outcomes(
        "update", Chunk(index=2, keys=["x"], body=None, digest="d"), "S", "i", resubmitted=False
    )
    assert one == ItemOutcome(
        kind="update", key="x", status="S", ok=False, info="i", batch_id=None, chunk=2
    )


@pytest.mark.parametrize("resubmitted", [True, False])
def test_reported_items_and_duplicates_are_outcomes_field_by_field(resubmitted: bool) -> None:
    items = {
        "a": server_item("LINKED", info="fine", item_id="i-a"),
        "b": server_item("FAILED", info="broken", item_id="i-b"),
    }
    outcomes = item_outcomes("link", CHUNK, "b-1", items, resubmitted=resubmitted, job_final=False)
    common: dict[str, Any] = {
        "kind": "link",
        "batch_id": "b-1",
        "chunk": 7,
        "resubmitted": resubmitted,
    }
    assert outcomes == [
        ItemOutcome(key="a", status="LINKED", ok=True, info="fine", item_id="i-a", **common),
        ItemOutcome(key="b", status="FAILED", ok=False, info="broken", item_id="i-b", **common),
        ItemOutcome(
            key="a2",
            status="DUPLICATE",
            ok=True,
            info="repeated in the same batch; sent once",
            **common,
        ),
    ]


def test_an_analysis_item_carries_the_created_analysis() -> None:
    chunk = Chunk(index=1, keys=["r1", "r2"], body=None, digest="d")
    items = {
        "r1": server_item("SUCCEEDED", item_id="i-1", analysis="an-1"),
        "r2": server_item("SUCCEEDED", item_id="i-2"),
    }
    first, second = item_outcomes(
        "analysis", chunk, "b-2", items, resubmitted=False, job_final=True
    )
    assert first == ItemOutcome(
        kind="analysis",
        key="r1",
        status="SUCCEEDED",
        ok=True,
        batch_id="b-2",
        item_id="i-1",
        chunk=1,
        analysis_id="an-1",
    )
    assert second.analysis_id is None
    assert second.ok


@pytest.mark.parametrize(
    ("assumed", "job_final", "status", "ok", "info"),
    [
        ("LINKED", False, "LINKED", True, None),
        ("LINKED", True, "LINKED", True, None),
        (None, True, "MISSING", False, "the server never reported this item"),
        (None, False, "UNKNOWN", False, "no final status before poll_timeout"),
    ],
)
def test_an_absent_item_is_assumed_missing_or_unknown(
    assumed: str | None, job_final: bool, status: str, ok: bool, info: str | None
) -> None:
    outcomes = item_outcomes(
        "link", CHUNK, "b-3", {}, resubmitted=True, assumed=assumed, job_final=job_final
    )
    common: dict[str, Any] = {"kind": "link", "batch_id": "b-3", "chunk": 7, "resubmitted": True}
    assert outcomes[:2] == [
        ItemOutcome(key=key, status=status, ok=ok, info=info, **common) for key in ["a", "b"]
    ]
    assert outcomes[2].key == "a2"


@pytest.mark.parametrize(
    ("kind", "status", "job_final", "expected", "ok"),
    [
        ("update", "UPDATED", False, "UPDATED", True),
        ("update", "PARTIALLY_UPDATED", False, "PARTIALLY_UPDATED", False),
        ("update", "UPDATING", False, "UNKNOWN", False),
        ("update", "UPDATING", True, "UPDATING", False),
        ("link", "ALREADY_LINKED", False, "ALREADY_LINKED", True),
        ("link", "RUNNING", False, "UNKNOWN", False),
        ("analysis", "RUNNING", False, "UNKNOWN", False),
        ("analysis", "FAILED", False, "FAILED", False),
        ("analysis", "SUCCEEDED", False, "SUCCEEDED", True),
    ],
)
def test_status_and_ok_per_kind(
    kind: Kind, status: str, job_final: bool, expected: str, ok: bool
) -> None:
    chunk = Chunk(index=0, keys=["k"], body=None, digest="d")
    [one] = item_outcomes(
        kind,
        chunk,
        "b",
        {"k": server_item(status, info="s")},
        resubmitted=False,
        job_final=job_final,
    )
    assert (one.status, one.ok, one.info) == (expected, ok, "s")


def test_the_doubt_of_a_resubmitted_pending_item_reads_whole() -> None:
    chunk = Chunk(index=0, keys=["k", "m"], body=None, digest="d")
    items = {"k": server_item("INITIALISED", info="stopped"), "m": server_item("UPDATING")}
    k, m = item_outcomes("update", chunk, "b-9", items, resubmitted=True, job_final=True)
    tail = (
        ", but its chunk was sent more than once after an answer was lost, so an earlier "
        "batch of it that this client never heard of may have processed it: check the data "
        "before sending it again"
    )
    assert k.info == ("the job of batch b-9 stopped before processing this item (stopped)" + tail)
    assert m.info == "the job of batch b-9 stopped before processing this item" + tail
    assert (k.status, k.ok, m.status, m.ok) == ("IN_DOUBT", False, "IN_DOUBT", False)
