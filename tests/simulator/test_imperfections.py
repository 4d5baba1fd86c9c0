"""The real services' imperfections: approximate counts, unknown fields, UUID pipeline ids,
stopped jobs, ALREADY_LINKED decided at link time, and the faithful() profile."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp
import pytest

from ica_tapis_async.simulator import Simulator, SimulatorConfig

from .helpers import V3, V4, Ica, cwl_item

PIPELINE = "6c2b3a8e-0d4f-4e1a-9b7c-5a3e2d1f0c9b"
# far apart in time, so a test reads a batch in one known phase after advance_clock()
SLOW: dict[str, Any] = {"step_s": 100.0, "item_rate": 1.0}


async def _link(ica: Ica, *data_ids: str, version: str = V4) -> dict[str, Any]:
    status, batch, _ = await ica.call(
        "POST",
        "/dataLinkingBatch",
        version=version,
        json={"items": [{"dataId": d} for d in data_ids]},
    )
    assert status == 201, batch
    return dict(batch)


async def _items(ica: Ica, batch_id: str, **params: Any) -> dict[str, Any]:
    status, page, _ = await ica.call(
        "GET", f"/dataLinkingBatch/{batch_id}/items", version=V4, params=params
    )
    assert status == 200, page
    return dict(page)


async def test_remaining_records_is_approximate_and_sometimes_absent() -> None:
    """With count_error the count strays from the truth both ways and may be missing; the
    cursor still walks every item exactly once."""
    async with (
        Simulator(count_error=0.5, count_absent_rate=0.2, seed=3) as sim,
        aiohttp.ClientSession() as http,
    ):
        ica = Ica(sim, http)
        batch = await _link(ica, *(f"fil.c{i}" for i in range(200)))
        seen: list[str] = []
        counts: list[int | None] = []
        params: dict[str, Any] = {"pageSize": 5}
        while True:
            page = await _items(ica, batch["id"], **params)
            seen += [item["id"] for item in page["items"]]
            counts.append(page.get("remainingRecords"))
            exact = 200 - len(seen)
            if page.get("remainingRecords") is not None and exact:
                assert 0 <= page["remainingRecords"] <= round(exact * 1.5) + 1
            if not page["nextPageToken"]:
                break
            params = {"pageSize": 5, "pageToken": page["nextPageToken"]}
        assert len(seen) == len(set(seen)) == 200
        assert None in counts  # sometimes absent
        truths = [200 - 5 * (i + 1) for i in range(len(counts))]
        assert any(c is not None and c > t for c, t in zip(counts, truths, strict=True))
        assert any(c is not None and c < t for c, t in zip(counts, truths, strict=True))
        rises = [b > a for a, b in itertools.pairwise(counts) if a is not None and b is not None]
        assert any(rises)  # a later page may report more than an earlier one


async def test_remaining_records_exact_by_default() -> None:
    """The default keeps the exact count (unit tests of paging rely on it)."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        batch = await _link(ica, *(f"fil.e{i}" for i in range(12)))
        page = await _items(ica, batch["id"], pageSize=5)
        assert page["remainingRecords"] == 7


def _unknown_keys(doc: Any, known: set[str]) -> set[str]:
    return set(doc) - known if isinstance(doc, dict) else set()


async def test_unknown_fields_in_every_answer_and_stable_per_resource() -> None:
    """unknown_fields adds properties no spec names to successes and Problems alike; a second
    read of the same resource shows the same ones (an ETag stays true)."""
    async with Simulator(unknown_fields=True) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        batch = await _link(ica, "fil.u1", "fil.u2")
        assert _unknown_keys(batch, {"id", "job"})
        sim.advance_clock(60)  # finished: the two reads below must see the same items
        page = await _items(ica, batch["id"])
        assert _unknown_keys(page, {"items", "nextPageToken", "remainingRecords"})
        again = await _items(ica, batch["id"])
        assert page == again
        status, problem, _ = await ica.call("GET", "/dataLinkingBatch/not-a-uuid")
        assert status == 400
        known = {"id", "type", "title", "status", "detail", "instance", "parameters"}
        assert _unknown_keys(problem, known | {"timestamp"})
        tapis_headers = {"X-Tapis-Token": "t"}
        async with http.get(f"{sim.tapis_url}/v3/files/transfers", headers=tapis_headers) as resp:
            envelope = await resp.json()
        assert _unknown_keys(
            envelope, {"status", "message", "result", "version", "commit", "build", "metadata"}
        )


async def test_non_uuid_pipeline_id_is_a_400_problem() -> None:
    """uuid_pipeline_ids: 'pipe-1' is refused, naming the field; a UUID passes."""
    async with Simulator(uuid_pipeline_ids=True) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        status, problem, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json={"cwlItems": [cwl_item("a", PIPELINE), cwl_item("b", "pipe-1")]},
        )
        assert status == 400
        assert problem["parameters"] == {"cwlItems[1].pipelineId": "must be a valid uuid"}
        status, batch, _ = await ica.call(
            "POST", "/analysisCreationBatch", json={"cwlItems": [cwl_item("a", PIPELINE)]}
        )
        assert status == 201, batch


async def test_lenient_pipeline_ids_never_break_the_uuid_fields() -> None:
    """Without the knob a non-UUID id is accepted, but the created analysis' pipeline.id is a
    UUID standing for it (the spec's format), not the raw text."""
    async with Simulator(analysis_run_s=0.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        _, batch, _ = await ica.call(
            "POST", "/analysisCreationBatch", json={"cwlItems": [cwl_item("a", "pipe-1")]}
        )
        sim.advance_clock(5)
        _, page, _ = await ica.call(
            "GET", f"/analysisCreationBatch/{batch['id']}/items", version=V4
        )
        (item,) = page["items"]
        assert item["request"]["pipelineId"] == "pipe-1"
        pipeline_id = item["createdAnalysis"]["pipeline"]["id"]
        assert pipeline_id != "pipe-1"
        assert len(pipeline_id) == 36


async def test_unknown_uuid_pipeline_fails_its_item() -> None:
    """A UUID starting 00000000- names a pipeline that does not exist: that item FAILS."""
    async with Simulator(uuid_pipeline_ids=True) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        missing = "00000000-0d4f-4e1a-9b7c-5a3e2d1f0c9b"
        _, batch, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json={"cwlItems": [cwl_item("ok", PIPELINE), cwl_item("no", missing)]},
        )
        sim.advance_clock(5)
        _, page, _ = await ica.call("GET", f"/analysisCreationBatch/{batch['id']}/items")
        by_ref = {i["request"]["userReference"]: i["processing"] for i in page["items"]}
        assert by_ref["ok"]["status"] == "SUCCEEDED"
        assert by_ref["no"] == {
            "status": "FAILED",
            "additionalStatusInformation": "Pipeline not found.",
        }


async def test_stopped_job_leaves_items_pending() -> None:
    """stop_rate=1: the job ends STOPPED once the processed share is done; the rest stay
    WAITING_RESOURCES with an explanation, and never change afterwards."""
    async with (
        Simulator(stop_rate=1.0, stop_pending_share=0.4, step_s=0.01, item_rate=1000.0) as sim,
        aiohttp.ClientSession() as http,
    ):
        ica = Ica(sim, http)
        batch = await _link(ica, *(f"fil.s{i}" for i in range(10)))
        sim.advance_clock(60)
        _, got, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}")
        assert got["job"]["status"] == "STOPPED"
        assert got["job"]["additionalStatusInformation"] == (
            "The job was stopped; 4 of 10 items were not processed."
        )
        assert got["job"]["timeFinished"] is not None
        page = await _items(ica, batch["id"], pageSize=100)
        statuses = [i["processing"]["status"] for i in page["items"]]
        assert statuses == ["LINKED"] * 6 + ["WAITING_RESOURCES"] * 4
        assert page["items"][-1]["processing"]["additionalStatusInformation"] == (
            "The job was stopped before this item was processed."
        )
        pending = await _items(ica, batch["id"], status="WAITING_RESOURCES")
        assert len(pending["items"]) == 4
        sim.advance_clock(3600)
        assert (await _items(ica, batch["id"], pageSize=100))["items"] == page["items"]
        assert sim.links(ica.project) == frozenset(f"fil.s{i}" for i in range(6))
        assert sim.stats.batches_stopped == 1


async def test_stopped_analysis_batch_creates_only_the_processed_analyses() -> None:
    """The exactly-once counter counts only analyses a stopped job really created."""
    async with Simulator(stop_rate=1.0, stop_pending_share=0.5) as sim:
        async with aiohttp.ClientSession() as http:
            ica = Ica(sim, http)
            status, _, _ = await ica.call(
                "POST",
                "/analysisCreationBatch",
                json={"cwlItems": [cwl_item(f"r{i}", PIPELINE) for i in range(4)]},
            )
        assert status == 201
        assert sim.stats.analyses_created == 2


async def test_already_linked_goes_to_the_batch_that_links_first() -> None:
    """Batch A (created first) reaches fil.x only after 3 fillers; batch B (created second)
    links it at once. B gets LINKED and A gets ALREADY_LINKED: the race is decided when the
    item links, not when the batch is created."""
    async with Simulator(step_s=0.0, item_rate=10.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        first = await _link(ica, "fil.f1", "fil.f2", "fil.f3", "fil.x")
        second = await _link(ica, "fil.x")
        sim.advance_clock(10)
        a = await _items(ica, first["id"])
        b = await _items(ica, second["id"])
        assert [i["processing"]["status"] for i in a["items"]] == [
            "LINKED",
            "LINKED",
            "LINKED",
            "ALREADY_LINKED",
        ]
        assert [i["processing"]["status"] for i in b["items"]] == ["LINKED"]
        assert "createdProjectData" in b["items"][0]


async def test_link_is_not_made_before_the_item_finishes() -> None:
    """A pending linking item has not linked its data yet."""
    async with Simulator(**SLOW) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        await _link(ica, "fil.p")
        assert "fil.p" not in sim.links(ica.project)
        sim.advance_clock(1000)
        assert "fil.p" in sim.links(ica.project)


async def test_v3_get_of_v4_items_with_the_content_type_rule() -> None:
    """With v4_get_needs_content_type a v3 GET needs nothing extra; v4 needs both headers."""
    async with Simulator(v4_get_needs_content_type=True) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        batch = await _link(ica, "fil.v")
        status, _, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}/items", version=V3)
        assert status == 200
        status, problem, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4
        )
        assert status == 400
        assert problem["title"] == "ICA_API_004"


def test_faithful_profile_turns_the_imperfections_on() -> None:
    """The documented profile; fields can still be overridden."""
    config = SimulatorConfig.faithful(seed=5, count_error=0.1)
    assert config.seed == 5
    assert config.count_error == 0.1
    assert config.count_absent_rate > 0
    assert config.unknown_fields
    assert config.extra_fields
    assert config.v4_get_needs_content_type
    assert config.uuid_pipeline_ids
    assert config.idempotent_processing_s > 0
    assert config.tapis_retry_rate > 0
    assert config.stop_rate == 0
    assert config.tapis_child_fail_rate == 0


@pytest.mark.parametrize(
    ("knob", "value"),
    [("count_error", 1.5), ("stop_rate", -0.1), ("tapis_child_fail_rate", 2.0)],
)
def test_bad_knobs_are_refused_by_name(knob: str, value: float) -> None:
    """Out-of-range shares raise a ValueError naming the field."""
    with pytest.raises(ValueError, match=knob):
        SimulatorConfig(**{knob: value})  # type: ignore[arg-type]
