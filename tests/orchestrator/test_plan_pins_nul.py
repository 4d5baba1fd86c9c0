"""Pins on refusing a NUL character in the input, before anything is sent.

PostgreSQL cannot store a NUL in text: a PostgreSQL journal would refuse a chunk's keys or
outcomes only after its batch was created on the server, and the chunk could never be
finished. So the planner refuses such input up front, naming the item and the field, whatever
the journal. An in-memory input is checked whole before the first chunk; a lazy one chunk by
chunk, from the body serialized for the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

import ica_tapis_async as ita
from ica_tapis_async._converter import dumps
from ica_tapis_async.orchestrator import _plan
from ica_tapis_async.orchestrator._plan import (
    Chunk,
    chunk_analyses,
    chunk_update_groups,
    prevalidate,
    refuse_nul,
)
from ica_tapis_async.simulator import Simulator

from .helpers import nextflow, orchestrator

NUL = "\x00"
#: Text with a backslash before "u0000": JSON writes it with the escaped NUL's bytes in it,
#: but it holds no NUL and must pass.
LOOKALIKE = "\\u0000"
ADD = ".user_tags.add_tags"


def tagged(ref: str, *user_tags: str) -> ita.CreateNextflowAnalysis:
    """A Nextflow analysis with user tags."""
    return ita.CreateNextflowAnalysis(
        ref,
        "pipe-1",
        ita.NextflowAnalysisInput([ita.AnalysisDataInput("reads", data_ids=["fil.1"])]),
        tags=ita.CreateAnalysisTag(user_tags=list(user_tags)),
    )


def group(*tags: str, data_ids: Iterable[str] = ("fil.1",)) -> ita.DataUpdateGroup:
    """An update group adding ``tags``."""
    return ita.DataUpdateGroup(list(data_ids), user_tags=ita.TagUpdate(add_tags=list(tags)))


async def lazily(values: list[Any]) -> AsyncIterator[Any]:
    """The values as an async iterable (checked chunk by chunk, not up front)."""
    for value in values:
        yield value


async def collect(chunks: AsyncIterator[Chunk]) -> list[Chunk]:
    """All chunks of a planner."""
    return [c async for c in chunks]


def field_of(error: pytest.ExceptionInfo[ita.RequestValidationError]) -> str | None:
    """The field a validation error names."""
    return error.value.field


# --- in-memory input: checked whole, before the first chunk -----------------------------------


def test_a_nul_in_a_user_reference_is_refused_naming_item_and_field() -> None:
    items = [nextflow("ok-1"), nextflow(f"bad{NUL}ref")]
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", items)
    assert field_of(error) == "items[1].user_reference"
    assert str(error.value) == (
        "items[1].user_reference: contains a NUL character (U+0000), which a PostgreSQL "
        "journal cannot store; remove it"
    )


def test_a_nul_deep_in_an_analysis_is_found_by_its_path() -> None:
    items = [tagged("a", "fine", f"x{NUL}")]
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", items)
    assert field_of(error) == "items[0].tags.user_tags[1]"


def test_a_nul_in_a_parameter_value_is_found() -> None:
    params: list[ita.AnalysisParameterInput | None] = [
        ita.AnalysisParameterInput(code="p", value="1"),
        ita.AnalysisParameterInput(code="q", multi_value=["a", f"b{NUL}"]),
    ]
    request = ita.CreateNextflowAnalysis(
        "r", "pipe-1", ita.NextflowAnalysisInput([], parameters=params)
    )
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", [request])
    assert field_of(error) == "items[0].analysis_input.parameters[1].multi_value[1]"


def test_a_nul_in_a_cwl_input_document_is_found() -> None:
    request = ita.CreateCwlAnalysis("c", "pipe-cwl", ita.CwlAnalysisJsonInput(f'{{"a": "{NUL}"}}'))
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", [nextflow("n"), request])
    assert field_of(error) == "items[1].analysis_input.input_json"


def test_a_nul_in_an_update_tag_is_refused() -> None:
    groups = [group("a"), group("b"), group("c", f"d{NUL}")]
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("update", groups)
    assert field_of(error) == "groups[2].user_tags.add_tags[1]"


def test_a_nul_is_found_past_fields_that_are_not_strings() -> None:
    when = datetime(2027, 1, 1, tzinfo=UTC)
    bad = ita.DataUpdateGroup(
        ["fil.1"], will_be_archived_at=when, clear_will_be_deleted_at=True,
        technical_tags=ita.TagUpdate(remove_tags=[f"{NUL}"]),
    )  # fmt: skip
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("update", [bad])
    assert field_of(error) == "groups[0].technical_tags.remove_tags[0]"


def test_tuples_are_walked_like_lists() -> None:
    bad = ita.DataUpdateGroup(["fil.1"], user_tags=ita.TagUpdate(add_tags=("ok", f"{NUL}")))  # type: ignore[arg-type]
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("update", (group("a"), bad))
    assert field_of(error) == "groups[1].user_tags.add_tags[1]"


def test_the_first_nul_is_the_one_named() -> None:
    items = [nextflow("a"), tagged(f"b{NUL}", f"t{NUL}"), nextflow(f"c{NUL}")]
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", items)
    assert field_of(error) == "items[1].user_reference"


@pytest.mark.parametrize("where", [0, 1, 499, 500, 501, 999, 1000, 1203])
def test_a_nul_anywhere_in_a_long_input_is_found_at_its_position(where: int) -> None:
    items = [nextflow(f"s-{i}") for i in range(1204)]
    items[where] = tagged(f"s-{where}", f"late{NUL}")
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", items)
    assert field_of(error) == f"items[{where}].tags.user_tags[0]"


def test_a_long_input_is_serialized_in_a_few_slices_not_item_by_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []

    def counting(value: Any) -> bytes:
        sizes.append(len(value))
        return dumps(value)

    monkeypatch.setattr(_plan, "dumps", counting)
    prevalidate("analysis", [nextflow(f"s-{i}") for i in range(1204)])
    assert sizes == [500, 500, 204]  # each item once


def test_a_lookalike_is_not_a_nul() -> None:
    prevalidate("analysis", [tagged("a", LOOKALIKE), nextflow(f"b{LOOKALIKE}")])
    prevalidate("update", [group(LOOKALIKE)])


def test_a_lookalike_does_not_hide_a_later_nul() -> None:
    # In the same slice, then in a later one: the walk goes on past the lookalike.
    same = [tagged("a", LOOKALIKE), nextflow("b"), tagged("c", NUL)]
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", same)
    assert field_of(error) == "items[2].tags.user_tags[0]"
    later = [tagged(f"s-{i}", LOOKALIKE) for i in range(600)] + [nextflow(f"x{NUL}")]
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("analysis", later)
    assert field_of(error) == "items[600].user_reference"


def test_links_need_no_nul_check_a_data_id_cannot_hold_one() -> None:
    with pytest.raises(ita.RequestValidationError) as error:
        prevalidate("link", ["fil.1", f"fil.{NUL}"])
    assert field_of(error) == "data_ids[1]"
    assert "not a valid data id" in str(error.value)


def test_refuse_nul_passes_clean_items_and_names_the_first_bad_one() -> None:
    refuse_nul([("items[0]", nextflow("a")), ("items[1]", "plain"), ("x", 3), ("y", None)])
    with pytest.raises(ita.RequestValidationError) as error:
        refuse_nul([("first", "ok"), ("second", f"a{NUL}"), ("third", NUL)])
    assert field_of(error) == "second"


# --- lazy input: checked chunk by chunk, from the serialized body ------------------------------


@pytest.mark.parametrize(("where", "size"), [(0, 2), (1, 2), (2, 2), (3, 2), (4, 2), (4, 10)])
async def test_a_lazy_analysis_input_names_the_input_position(where: int, size: int) -> None:
    items = [nextflow(f"s-{i}") for i in range(5)]
    items[where] = nextflow(f"s{NUL}{where}")
    with pytest.raises(ita.RequestValidationError) as error:
        await collect(chunk_analyses(lazily(items), size))
    assert field_of(error) == f"items[{where}].user_reference"


async def test_lazy_chunks_before_the_bad_one_are_planned() -> None:
    items = [nextflow("a"), nextflow("b"), nextflow(f"c{NUL}")]
    planned: list[Chunk] = []
    with pytest.raises(ita.RequestValidationError):
        async for chunk in chunk_analyses(lazily(items), 2):
            planned.append(chunk)
    assert [c.keys for c in planned] == [["a", "b"]]


@pytest.mark.parametrize(
    ("groups", "size", "field"),
    [
        # the bad group alone, after a full chunk
        ([group("a", data_ids=["fil.1", "fil.2"]), group(NUL)], 2, "groups[1]" + ADD + "[0]"),
        # a bad group split over two chunks: named in the first
        ([group(NUL, data_ids=["fil.1", "fil.2", "fil.3"])], 2, "groups[0]" + ADD + "[0]"),
        # a group split over two chunks, then the bad one in the second chunk
        ([group("a", data_ids=["fil.1", "fil.2", "fil.3"]), group("b", NUL, data_ids=["fil.4"])],
         2, "groups[1]" + ADD + "[1]"),
        # a repeated data id starts a new chunk; the bad group comes after it
        ([group("a"), group("b"), group(NUL, data_ids=["fil.9"])], 5, "groups[2]" + ADD + "[0]"),
    ],
)  # fmt: skip
async def test_a_lazy_update_input_names_the_input_group(
    groups: list[ita.DataUpdateGroup], size: int, field: str
) -> None:
    with pytest.raises(ita.RequestValidationError) as error:
        await collect(chunk_update_groups(lazily(groups), size))
    assert field_of(error) == field


async def test_lazy_lookalikes_pass_and_keep_the_digest_of_the_body() -> None:
    (update,) = await collect(chunk_update_groups(lazily([group(LOOKALIKE)]), 10))
    assert update.digest == hashlib.sha256(dumps(update.body)).hexdigest()
    (analysis,) = await collect(chunk_analyses(lazily([tagged("a", LOOKALIKE)]), 10))
    assert analysis.digest == hashlib.sha256(dumps(analysis.body)).hexdigest()


# --- the orchestrator: nothing sent, nothing journaled ------------------------------------------


async def test_the_orchestrator_refuses_before_sending_anything(sim: Simulator) -> None:
    async with ita.IcaClient(sim.ica_url, api_key="k") as ica:
        journal = ita.orchestrator.MemoryJournal()
        orch = orchestrator(ica, journal=journal, run_id="nul")
        with pytest.raises(ita.RequestValidationError) as error:
            await orch.create_analyses([nextflow("ok-1"), nextflow(f"bad{NUL}ref")])
        assert field_of(error) == "items[1].user_reference"
        assert ica.metrics.requests == 0
    assert sim.stats.analyses_created == 0
    assert await journal.get_run("nul") is None
