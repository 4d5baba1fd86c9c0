"""Pins on the chunk planner: the chunks and idempotency keys that exactly-once rests on.

Each test states one fact a resumed run depends on, so that a change to the planner that
would make a resumed run send a different body, under a different key or in another order,
fails here first.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import ica_tapis_async as ita
from ica_tapis_async._converter import dumps
from ica_tapis_async.orchestrator._plan import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    AnalysisRequest,
    Chunk,
    Kind,
    batch_cap,
    check_batch_size,
    check_data_id,
    check_run_id,
    chunk_analyses,
    chunk_data_ids,
    chunk_key,
    chunk_update_groups,
    prevalidate,
)

from .helpers import nextflow


async def collect(chunks: AsyncIterator[Chunk]) -> list[Chunk]:
    """All chunks of a planner."""
    return [c async for c in chunks]


def cwl(ref: str) -> ita.CreateCwlAnalysis:
    """A minimal CWL analysis request."""
    return ita.CreateCwlAnalysis(ref, "pipe-cwl", ita.CwlAnalysisJsonInput("{}"))


def nextflow_json(ref: str) -> ita.CreateNextflowJsonAnalysis:
    """A minimal Nextflow JSON analysis request."""
    return ita.CreateNextflowJsonAnalysis(ref, "pipe-json", ita.NextflowJsonAnalysisInput())


async def arange(values: list[Any]) -> AsyncIterator[Any]:
    """The values as an async iterable."""
    for value in values:
        yield value


# --- keys and digests --------------------------------------------------------------------------


def test_key_format_is_fixed() -> None:
    """The key is ``ita-<run id>-<kind>-<8-digit index>-<32 hex of the digest>``."""
    digest = "0123456789abcdef" * 4
    assert chunk_key("run-1", "link", 3, digest) == (
        "ita-run-1-link-00000003-0123456789abcdef0123456789abcdef"
    )


def test_key_keeps_64_characters_of_the_run_id() -> None:
    """A long run id is cut to its first 64 characters, so every key stays short."""
    run_id = "a" * 64 + "b" * 200
    key = chunk_key(run_id, "update", 0, "f" * 64)
    assert key == f"ita-{'a' * 64}-update-00000000-{'f' * 32}"


def test_longest_key_fits_the_idempotency_header() -> None:
    """The longest possible key is well within the 255 characters ICA accepts."""
    key = chunk_key("r" * 300, "analysis", 99_999_999, "e" * 64)
    assert len(key) == len("ita-") + 64 + len("-analysis-") + 8 + 1 + 32


def test_key_index_is_zero_padded_to_eight_digits() -> None:
    """Index 12 is written 00000012, so keys of one run sort in chunk order."""
    assert chunk_key("r", "link", 12, "d" * 64).split("-")[3] == "00000012"


async def test_digest_is_sha256_of_the_body_json() -> None:
    """A link chunk's digest is the SHA-256 of its JSON body, byte for byte."""
    (chunk,) = await collect(chunk_data_ids(["fil.1", "fil.2"], 10))
    assert chunk.digest == hashlib.sha256(dumps(chunk.body)).hexdigest()


async def test_digest_of_a_known_body_never_changes() -> None:
    """The digest of a fixed input is a constant: a journal written today resumes tomorrow."""
    (chunk,) = await collect(chunk_data_ids(["fil.1", "fil.2"], 10))
    assert chunk.digest == "d41f748ad1ed21a48c6f0818e3be5700f5466f8eebd7b0ac41b47e12f41ec966"


async def test_update_digests_differ_when_only_the_tags_differ() -> None:
    """Same data ids, other tags: another body, so another digest (never a reused key)."""
    add = [ita.DataUpdateGroup(["fil.1"], user_tags=ita.TagUpdate(add_tags=["x"]))]
    remove = [ita.DataUpdateGroup(["fil.1"], user_tags=ita.TagUpdate(remove_tags=["x"]))]
    (a,) = await collect(chunk_update_groups(add, 10))
    (b,) = await collect(chunk_update_groups(remove, 10))
    assert a.digest != b.digest


async def test_update_digest_is_sha256_of_the_body_json() -> None:
    """An update chunk's digest is the SHA-256 of the body it sends."""
    groups = [ita.DataUpdateGroup(["fil.1", "fil.2"], user_tags=ita.TagUpdate(add_tags=["x"]))]
    (chunk,) = await collect(chunk_update_groups(groups, 10))
    assert chunk.digest == hashlib.sha256(dumps(chunk.body)).hexdigest()


async def test_analysis_digest_is_sha256_of_the_body_json() -> None:
    """An analysis chunk's digest is the SHA-256 of the body it sends."""
    (chunk,) = await collect(chunk_analyses([nextflow("n-1"), cwl("c-1")], 10))
    assert chunk.digest == hashlib.sha256(dumps(chunk.body)).hexdigest()


async def test_analysis_digests_differ_when_a_request_differs() -> None:
    """Another pipeline for the same reference is another body and another digest."""
    (a,) = await collect(chunk_analyses([nextflow("n-1", "pipe-1")], 10))
    (b,) = await collect(chunk_analyses([nextflow("n-1", "pipe-2")], 10))
    assert a.digest != b.digest


# --- chunk indices -------------------------------------------------------------------------------


async def test_link_chunk_indices_start_at_zero_and_are_consecutive() -> None:
    """Five ids in chunks of two: indices 0, 1, 2."""
    chunks = await collect(chunk_data_ids([f"fil.{i}" for i in range(5)], 2))
    assert [c.index for c in chunks] == [0, 1, 2]


async def test_update_chunk_indices_start_at_zero_and_are_consecutive() -> None:
    """Five ids in one group, chunks of two: indices 0, 1, 2."""
    groups = [ita.DataUpdateGroup([f"fil.{i}" for i in range(5)])]
    chunks = await collect(chunk_update_groups(groups, 2))
    assert [c.index for c in chunks] == [0, 1, 2]


async def test_analysis_chunk_indices_start_at_zero_and_are_consecutive() -> None:
    """Five analyses in chunks of two: indices 0, 1, 2."""
    chunks = await collect(chunk_analyses([nextflow(f"n-{i}") for i in range(5)], 2))
    assert [c.index for c in chunks] == [0, 1, 2]


# --- chunk contents ------------------------------------------------------------------------------


async def test_link_body_lists_the_chunk_ids_in_order() -> None:
    """A link chunk's body is exactly its own ids, in input order, one item each."""
    chunks = await collect(chunk_data_ids(["fil.3", "fil.1", "fil.2"], 2))
    bodies = [[item.data_id for item in c.body.items] for c in chunks]
    assert bodies == [["fil.3", "fil.1"], ["fil.2"]]


async def test_link_duplicate_across_chunks_is_sent_again() -> None:
    """A repeat in a later chunk is not a duplicate there: the server answers ALREADY_LINKED."""
    chunks = await collect(chunk_data_ids(["fil.1", "fil.2", "fil.1"], 2))
    assert [(c.keys, c.duplicates) for c in chunks] == [
        (["fil.1", "fil.2"], []),
        (["fil.1"], []),
    ]


async def test_link_duplicates_do_not_count_towards_the_size() -> None:
    """A collapsed repeat leaves room in its chunk for the next id."""
    chunks = await collect(chunk_data_ids(["fil.1", "fil.1", "fil.2", "fil.3"], 2))
    assert [(c.keys, c.duplicates) for c in chunks] == [
        (["fil.1", "fil.2"], ["fil.1"]),
        (["fil.3"], []),
    ]


async def test_split_update_group_bodies_carry_only_their_own_ids() -> None:
    """A group split over three chunks: each body names only that chunk's ids, with the tags."""
    tags = ita.TagUpdate(add_tags=["x"])
    groups = [ita.DataUpdateGroup(["fil.1", "fil.2", "fil.3", "fil.4", "fil.5"], user_tags=tags)]
    chunks = await collect(chunk_update_groups(groups, 2))
    bodies = [[(list(g.data_ids), g.user_tags) for g in c.body.data_update_groups] for c in chunks]
    assert bodies == [
        [(["fil.1", "fil.2"], tags)],
        [(["fil.3", "fil.4"], tags)],
        [(["fil.5"], tags)],
    ]


async def test_update_groups_share_a_chunk_when_they_fit() -> None:
    """Two small groups fill one chunk as two groups, each with its own ids."""
    groups = [ita.DataUpdateGroup(["fil.1"]), ita.DataUpdateGroup(["fil.2", "fil.3"])]
    (chunk,) = await collect(chunk_update_groups(groups, 5))
    assert [list(g.data_ids) for g in chunk.body.data_update_groups] == [
        ["fil.1"],
        ["fil.2", "fil.3"],
    ]


async def test_update_group_that_ends_a_chunk_does_not_leak_into_the_next() -> None:
    """A group filling a chunk exactly leaves the next chunk to the next group alone."""
    groups = [ita.DataUpdateGroup(["fil.1", "fil.2"]), ita.DataUpdateGroup(["fil.3"])]
    chunks = await collect(chunk_update_groups(groups, 2))
    bodies = [[list(g.data_ids) for g in c.body.data_update_groups] for c in chunks]
    assert bodies == [[["fil.1", "fil.2"]], [["fil.3"]]]


async def test_update_repeat_within_a_chunk_starts_a_new_chunk() -> None:
    """A data id already in the open chunk closes it; the repeat opens the next one."""
    groups = [ita.DataUpdateGroup(["fil.1"]), ita.DataUpdateGroup(["fil.1", "fil.2"])]
    chunks = await collect(chunk_update_groups(groups, 10))
    bodies = [[list(g.data_ids) for g in c.body.data_update_groups] for c in chunks]
    assert bodies == [[["fil.1"]], [["fil.1", "fil.2"]]]


async def test_update_request_of_is_the_split_group() -> None:
    """``request_of`` a data id names the group piece it was sent in."""
    tags = ita.TagUpdate(add_tags=["x"])
    groups = [ita.DataUpdateGroup(["fil.1", "fil.2", "fil.3"], user_tags=tags)]
    second = (await collect(chunk_update_groups(groups, 2)))[1]
    assert second.request_of("fil.3") == ita.DataUpdateGroup(["fil.3"], user_tags=tags)


async def test_nextflow_json_analyses_are_in_their_batch() -> None:
    """Nextflow JSON requests travel in ``nextflowJsonItems`` beside the other kinds."""
    requests: list[AnalysisRequest] = [nextflow("n-1"), nextflow_json("j-1"), cwl("c-1")]
    (chunk,) = await collect(chunk_analyses(requests, 10))
    assert chunk.body.nextflow_json_items == [requests[1]]


async def test_analysis_body_has_every_kind_in_its_own_list() -> None:
    """Each kind has its own list in the body; absent kinds are left out, not empty."""
    requests: list[AnalysisRequest] = [nextflow("n-1"), cwl("c-1")]
    (chunk,) = await collect(chunk_analyses(requests, 10))
    lists = (chunk.body.cwl_items, chunk.body.nextflow_items, chunk.body.nextflow_json_items)
    assert lists == ([requests[1]], [requests[0]], None)


async def test_analysis_keys_are_user_references_in_input_order() -> None:
    """Keys follow the input, not the grouping by kind."""
    requests: list[AnalysisRequest] = [nextflow_json("j-1"), cwl("c-1"), nextflow("n-1")]
    (chunk,) = await collect(chunk_analyses(requests, 10))
    assert chunk.keys == ["j-1", "c-1", "n-1"]


@pytest.mark.parametrize("ref", ["n-1", "j-1", "c-1"])
async def test_analysis_request_of_finds_every_kind(ref: str) -> None:
    """``request_of`` a user reference is its request, whichever kind it is."""
    requests: dict[str, AnalysisRequest] = {
        "n-1": nextflow("n-1"),
        "j-1": nextflow_json("j-1"),
        "c-1": cwl("c-1"),
    }
    (chunk,) = await collect(chunk_analyses(list(requests.values()), 10))
    assert chunk.request_of(ref) is requests[ref]


async def test_link_request_of_is_the_data_id() -> None:
    """A link item's input is its data id itself."""
    (chunk,) = await collect(chunk_data_ids(["fil.1"], 10))
    assert chunk.request_of("fil.1") == "fil.1"


async def test_request_of_an_unknown_key_is_the_key() -> None:
    """A key the chunk does not hold is answered with the key, not an error."""
    (chunk,) = await collect(chunk_analyses([nextflow("n-1")], 10))
    assert chunk.request_of("other") == "other"


# --- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "size"), [("link", 1000), ("update", 1000), ("analysis", 100)])
def test_default_batch_sizes(kind: Kind, size: int) -> None:
    """No batch size means the default of the kind."""
    assert check_batch_size(kind, None) == size


def test_default_batch_size_table() -> None:
    """The defaults, all in one place."""
    assert DEFAULT_BATCH_SIZE == {"link": 1000, "update": 1000, "analysis": 100}


def test_max_batch_size_table() -> None:
    """The server limits: 25,000 links, 5,000 update ids, 1,000 analyses."""
    assert MAX_BATCH_SIZE == {"link": 25_000, "update": 5_000, "analysis": 1_000}


@pytest.mark.parametrize("kind", ["link", "update", "analysis"])
def test_batch_size_at_the_limit_is_accepted(kind: Kind) -> None:
    """Exactly the server's limit is allowed."""
    assert check_batch_size(kind, MAX_BATCH_SIZE[kind]) == MAX_BATCH_SIZE[kind]


@pytest.mark.parametrize("kind", ["link", "update", "analysis"])
def test_batch_size_over_the_cap_is_refused(kind: Kind) -> None:
    """One over the cap is refused, the whole message naming kind, cap and the way to raise it."""
    cap = MAX_BATCH_SIZE[kind]
    with pytest.raises(ita.RequestValidationError) as info:
        check_batch_size(kind, cap + 1)
    assert str(info.value) == (
        f"batch_size: {cap + 1} is over the cap of {cap} for {kind} batches; "
        f"pass max_batch_size={cap + 1} to raise it deliberately"
    )


def test_raised_cap_allows_a_bigger_batch() -> None:
    """A caller who raises the link cap may send bigger link batches."""
    assert check_batch_size("link", 30_000, max_batch_size=30_000) == 30_000


def test_default_batch_size_never_exceeds_a_lowered_cap() -> None:
    """A cap below the default lowers the default with it."""
    assert check_batch_size("link", None, max_batch_size=10) == 10


@pytest.mark.parametrize(("kind", "cap"), [("link", 25_000), ("update", 5_000), ("analysis", 1000)])
def test_batch_cap_defaults(kind: Kind, cap: int) -> None:
    """Without ``max_batch_size`` the cap is the documented advice."""
    assert batch_cap(kind, None) == cap


def test_cap_of_one_is_allowed() -> None:
    """One item per batch is the smallest cap."""
    assert batch_cap("analysis", 1) == 1


def test_update_cap_may_rise_to_the_hard_limit() -> None:
    """100,000 update ids is the most the server takes, and may be asked for."""
    assert batch_cap("update", 100_000) == 100_000


def test_update_cap_over_the_hard_limit_is_refused() -> None:
    """One more than the server's hard limit cannot be configured."""
    with pytest.raises(ita.RequestValidationError) as info:
        batch_cap("update", 100_001)
    assert str(info.value) == (
        "max_batch_size: 100001 is over the server's hard limit of 100000 for update batches"
    )


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "10"])
def test_batch_cap_must_be_a_positive_int(bad: object) -> None:
    """Zero, negatives, bools, floats and strings are refused as caps."""
    with pytest.raises(ita.RequestValidationError) as info:
        batch_cap("link", bad)  # type: ignore[arg-type]
    assert str(info.value) == "max_batch_size: must be a positive int"


@pytest.mark.parametrize("run_id", ["r", "r" * 64, "run-2024_05:01!~"])
def test_run_ids_accepted(run_id: str) -> None:
    """1-64 printable ASCII characters without spaces."""
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize(
    "run_id",
    [
        "",
        "r" * 65,
        "run 1",
        "rün",
        None,
        7,
        "run\n",
    ],
)
def test_run_ids_refused(run_id: object) -> None:
    """A run id goes into the Idempotency-Key header: anything else is refused, named."""
    with pytest.raises(ita.RequestValidationError) as info:
        check_run_id(run_id)
    assert str(info.value) == (
        f"run_id: must be 1-64 printable ASCII characters without spaces, got {run_id!r}"
    )


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "10"])
def test_batch_size_must_be_a_positive_int(bad: object) -> None:
    """Zero, negatives, bools, floats and strings are refused with one message."""
    with pytest.raises(ita.RequestValidationError) as info:
        check_batch_size("link", bad)  # type: ignore[arg-type]
    assert str(info.value) == "batch_size: must be a positive int"


def test_batch_size_of_one_is_accepted() -> None:
    """One is the smallest batch."""
    assert check_batch_size("analysis", 1) == 1


async def test_exactly_one_full_link_chunk() -> None:
    """As many ids as the size make one chunk, not a full one and an empty one."""
    chunks = await collect(chunk_data_ids([f"fil.{i}" for i in range(3)], 3))
    assert [len(c.keys) for c in chunks] == [3]


async def test_exactly_one_full_update_chunk() -> None:
    """As many update ids as the size make one chunk."""
    groups = [ita.DataUpdateGroup([f"fil.{i}" for i in range(3)])]
    chunks = await collect(chunk_update_groups(groups, 3))
    assert [len(c.keys) for c in chunks] == [3]


async def test_exactly_one_full_analysis_chunk() -> None:
    """As many analyses as the size make one chunk."""
    chunks = await collect(chunk_analyses([nextflow(f"n-{i}") for i in range(3)], 3))
    assert [len(c.keys) for c in chunks] == [3]


# --- empty inputs ---------------------------------------------------------------------------------


def empty() -> Iterator[Any]:
    """A lazy iterator that yields nothing."""
    yield from ()


@pytest.mark.parametrize("items", [[], empty(), arange([])], ids=["list", "iterator", "async"])
async def test_empty_link_input_is_refused(items: Any) -> None:
    """No data ids, eager or lazy, is refused the same way."""
    with pytest.raises(ita.RequestValidationError) as info:
        await collect(chunk_data_ids(items, 10))
    assert str(info.value) == "data_ids: is empty: nothing to do"


@pytest.mark.parametrize("items", [[], empty(), arange([])], ids=["list", "iterator", "async"])
async def test_empty_update_input_is_refused(items: Any) -> None:
    """No groups, eager or lazy, is refused the same way."""
    with pytest.raises(ita.RequestValidationError) as info:
        await collect(chunk_update_groups(items, 10))
    assert str(info.value) == "groups: is empty: nothing to do"


@pytest.mark.parametrize("items", [[], empty(), arange([])], ids=["list", "iterator", "async"])
async def test_empty_analysis_input_is_refused(items: Any) -> None:
    """No analyses, eager or lazy, is refused the same way."""
    with pytest.raises(ita.RequestValidationError) as info:
        await collect(chunk_analyses(items, 10))
    assert str(info.value) == "items: is empty: nothing to do"


async def test_input_of_only_duplicates_is_not_empty() -> None:
    """Ids were given, so the input is not 'empty' even if all collapse into one."""
    chunks = await collect(chunk_data_ids(["fil.1", "fil.1"], 10))
    assert [(c.keys, c.duplicates) for c in chunks] == [(["fil.1"], ["fil.1"])]


async def test_async_input_is_chunked_like_a_list() -> None:
    """An async iterable gives the same chunks as the same ids in a list."""
    ids = [f"fil.{i}" for i in range(5)]
    lazy = [c.keys for c in await collect(chunk_data_ids(arange(ids), 2))]
    eager = [c.keys for c in await collect(chunk_data_ids(ids, 2))]
    assert lazy == eager


# --- data ids and user references -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["fil.1", "a_b", "urn:ilmn:1", "A-9", "x" * 255, "0", "fil.1.", "a--"]
)
def test_data_ids_accepted(value: str) -> None:
    """Letters, digits and ``._:-``, 1-255 characters, starting with a letter or digit."""
    assert check_data_id(value, "where") == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".fil", "where: is not a valid data id: '.fil'"),
        ("-fil", "where: is not a valid data id: '-fil'"),
        ("_fil", "where: is not a valid data id: '_fil'"),
        (":fil", "where: is not a valid data id: ':fil'"),
        ("fil 1", "where: is not a valid data id: 'fil 1'"),
        ("fil/1", "where: is not a valid data id: 'fil/1'"),
        ("fil.1\n", "where: is not a valid data id: 'fil.1\\n'"),
        ("x" * 256, "where: is 256 characters; at most 255"),
        ("", "where: must be a non-empty string, got ''"),
        (5, "where: must be a non-empty string, got 5"),
        (None, "where: must be a non-empty string, got None"),
    ],
)
def test_data_ids_refused_with_the_whole_message(value: object, message: str) -> None:
    """A bad data id is a RequestValidationError whose whole text names field and fault."""
    with pytest.raises(ita.RequestValidationError) as info:
        check_data_id(value, "where")
    assert str(info.value) == message


def test_data_id_error_names_its_field() -> None:
    """The error's ``field`` is the place given."""
    with pytest.raises(ita.RequestValidationError) as info:
        check_data_id("", "data_ids[7]")
    assert info.value.field == "data_ids[7]"


async def test_non_string_data_id_in_a_lazy_input_is_a_validation_error() -> None:
    """An int among lazily read ids is a RequestValidationError, not a TypeError."""
    with pytest.raises(ita.RequestValidationError) as info:
        await collect(chunk_data_ids(iter(["fil.1", 7]), 10))  # type: ignore[arg-type]
    assert str(info.value) == "data_ids[1]: must be a non-empty string, got 7"


async def test_non_string_data_id_in_a_group_is_a_validation_error() -> None:
    """An int among a group's ids is a RequestValidationError naming group and position."""
    groups = [ita.DataUpdateGroup(["fil.1"]), ita.DataUpdateGroup(["fil.2", 7])]  # type: ignore[list-item]
    with pytest.raises(ita.RequestValidationError) as info:
        await collect(chunk_update_groups(iter(groups), 10))
    assert str(info.value) == "groups[1].data_ids[1]: must be a non-empty string, got 7"


def test_prevalidate_names_the_bad_link_position() -> None:
    """The whole input is checked up front, the message naming the first bad position."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("link", ["fil.1", "fil.2", ".bad"])
    assert str(info.value) == "data_ids[2]: is not a valid data id: '.bad'"


def test_prevalidate_refuses_a_non_group() -> None:
    """An update input must hold DataUpdateGroups."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("update", [ita.DataUpdateGroup(["fil.1"]), "fil.2"])
    assert str(info.value) == "groups[1]: must be a DataUpdateGroup, got str"


def test_prevalidate_refuses_a_group_without_ids() -> None:
    """A group with no data ids is refused, naming it."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("update", [ita.DataUpdateGroup(["fil.1"]), ita.DataUpdateGroup([])])
    assert str(info.value) == "groups[1].data_ids: has no data ids"


def test_prevalidate_refuses_a_bad_id_in_a_group() -> None:
    """A bad id inside a group names group and position."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("update", [ita.DataUpdateGroup(["fil.1", "-x"])])
    assert str(info.value) == "groups[0].data_ids[1]: is not a valid data id: '-x'"


def test_prevalidate_refuses_an_unknown_analysis_type() -> None:
    """Something that is not an analysis request is refused with the accepted types."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("analysis", [nextflow("n-1"), 3])
    assert str(info.value) == (
        "items[1]: must be CreateCwlAnalysis, CreateNextflowAnalysis or "
        "CreateNextflowJsonAnalysis, got int"
    )


def test_prevalidate_refuses_a_repeated_user_reference() -> None:
    """Two analyses with one reference are refused at the second."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("analysis", [nextflow("a"), cwl("b"), nextflow_json("a")])
    assert str(info.value) == (
        "items[2].user_reference: 'a' appears twice; user references must be unique in a run"
    )


@pytest.mark.parametrize("kind", ["link", "update", "analysis"])
def test_prevalidate_refuses_an_empty_list(kind: Kind) -> None:
    """An empty in-memory input is refused before anything is sent."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate(kind, [])
    assert str(info.value) == "items: is empty: nothing to do"


@pytest.mark.parametrize("items", ["fil.1", b"fil.1"])
def test_prevalidate_refuses_a_string(items: object) -> None:
    """A string is not a list of ids (iterating it would yield characters)."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("link", items)
    assert str(info.value) == "items: must be an iterable of items, not a string"


def test_prevalidate_leaves_lazy_input_unread() -> None:
    """A lazy input is checked per chunk later; prevalidate does not consume it."""
    pulled: list[int] = []

    def ids() -> Iterator[str]:
        pulled.append(0)
        yield ".bad"

    prevalidate("link", ids())
    assert pulled == []


def test_user_reference_of_255_characters_is_accepted() -> None:
    """255 characters is the longest user reference."""
    prevalidate("analysis", [nextflow("r" * 255)])


@pytest.mark.parametrize("ref", ["", "r" * 256])
def test_user_reference_outside_1_to_255_is_refused(ref: str) -> None:
    """An empty or 256-character user reference is refused with the whole message."""
    with pytest.raises(ita.RequestValidationError) as info:
        prevalidate("analysis", [nextflow("ok"), nextflow(ref)])
    assert str(info.value) == "items[1].user_reference: must be 1-255 characters"


async def test_lazy_analyses_are_checked_for_repeats_across_chunks() -> None:
    """A reference repeated in a later chunk of a lazy input is still refused."""
    requests = iter([nextflow("a"), nextflow("b"), nextflow("a")])
    with pytest.raises(ita.RequestValidationError) as info:
        await collect(chunk_analyses(requests, 2))
    assert str(info.value) == (
        "items[2].user_reference: 'a' appears twice; user references must be unique in a run"
    )


async def test_lazy_update_groups_are_checked_per_position() -> None:
    """A lazy input names the position of a bad group, counted from 0."""
    groups = iter([ita.DataUpdateGroup(["fil.1"]), ita.DataUpdateGroup(["fil.2"])])
    bad = iter([*groups, ita.DataUpdateGroup([])])
    with pytest.raises(ita.RequestValidationError) as info:
        await collect(chunk_update_groups(bad, 10))
    assert str(info.value) == "groups[2].data_ids: has no data ids"


async def test_every_split_update_chunk_has_the_digest_of_its_body() -> None:
    """Chunks closed in the middle of a group carry their own body's digest."""
    groups = [ita.DataUpdateGroup([f"fil.{i}" for i in range(5)])]
    chunks = await collect(chunk_update_groups(groups, 2))
    digests = [hashlib.sha256(dumps(c.body)).hexdigest() for c in chunks]
    assert [c.digest for c in chunks] == digests
