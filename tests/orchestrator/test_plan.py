"""Chunking and validation before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator._plan import (
    check_batch_size,
    chunk_analyses,
    chunk_data_ids,
    chunk_key,
    chunk_update_groups,
    prevalidate,
)

from .helpers import nextflow


async def test_link_chunks_and_duplicates() -> None:
    """Ids split by size; a repeat within a chunk is collapsed and listed as duplicate."""
    chunks = [c async for c in chunk_data_ids(["fil.1", "fil.2", "fil.1", "fil.3"], 2)]
    assert [c.keys for c in chunks] == [["fil.1", "fil.2"], ["fil.1", "fil.3"]]
    chunks = [c async for c in chunk_data_ids(["fil.1", "fil.1", "fil.2"], 5)]
    assert chunks[0].keys == ["fil.1", "fil.2"]
    assert chunks[0].duplicates == ["fil.1"]


async def test_digest_and_key_are_deterministic() -> None:
    """The same input gives the same digest and key; another input another one."""
    a = await anext(chunk_data_ids(["fil.1", "fil.2"], 10))
    b = await anext(chunk_data_ids(["fil.1", "fil.2"], 10))
    c = await anext(chunk_data_ids(["fil.1", "fil.3"], 10))
    assert a.digest == b.digest != c.digest
    key = chunk_key("r" * 200, "analysis", 3, a.digest)
    assert key == chunk_key("r" * 200, "analysis", 3, b.digest)
    assert len(key) <= 255


async def test_update_groups_split_and_unique_per_chunk() -> None:
    """A big group is split; a data id never appears twice in one chunk."""
    tags = ita.TagUpdate(add_tags=["x"])
    groups = [
        ita.DataUpdateGroup(["fil.1", "fil.2", "fil.3"], user_tags=tags),
        ita.DataUpdateGroup(["fil.3", "fil.4"]),
    ]
    chunks = [c async for c in chunk_update_groups(groups, 2)]
    assert [c.keys for c in chunks] == [["fil.1", "fil.2"], ["fil.3"], ["fil.3", "fil.4"]]
    assert chunks[0].body.data_update_groups[0].user_tags == tags
    assert all(len(set(c.keys)) == len(c.keys) for c in chunks)


async def test_analysis_chunks_keep_kinds() -> None:
    """Analysis requests are grouped by kind inside a chunk body."""
    cwl = ita.CreateCwlAnalysis("c-1", "p", ita.CwlAnalysisJsonInput("{}"))
    chunks = [c async for c in chunk_analyses([nextflow("n-1"), cwl, nextflow("n-2")], 2)]
    assert [c.keys for c in chunks] == [["n-1", "c-1"], ["n-2"]]
    assert chunks[0].body.cwl_items == [cwl]
    assert len(chunks[0].body.nextflow_items) == 1


@pytest.mark.parametrize(
    ("kind", "items", "message"),
    [
        ("link", [], "empty"),
        ("link", ["fil.1", ""], r"data_ids\[1\]"),
        ("link", ["x" * 256], "at most 255"),
        ("link", ["fil 1"], "not a valid data id"),
        ("link", "fil.1", "not a string"),
        ("update", [ita.DataUpdateGroup([])], "no data ids"),
        ("analysis", [nextflow("a"), nextflow("a")], "appears twice"),
        ("analysis", ["nope"], "must be CreateCwlAnalysis"),
    ],
)
def test_prevalidate_refuses_bad_input(kind: str, items: object, message: str) -> None:
    """Bad in-memory input is refused with the field named, before anything is sent."""
    with pytest.raises(ita.RequestValidationError, match=message):
        prevalidate(kind, items)  # type: ignore[arg-type]


def test_batch_size_limits() -> None:
    """Defaults per kind; over the server's limit is refused."""
    assert check_batch_size("update", None) == 1000
    assert check_batch_size("link", 25_000) == 25_000
    with pytest.raises(ita.RequestValidationError, match=r"cap of 5000.*max_batch_size=5001"):
        check_batch_size("update", 5001)
    with pytest.raises(ita.RequestValidationError, match="positive"):
        check_batch_size("link", 0)


def test_the_25000_link_cap_is_a_default_that_can_be_raised() -> None:
    """25,000 links is the default cap (the V3 advice), raised deliberately for V4."""
    with pytest.raises(ita.RequestValidationError, match="max_batch_size=30000"):
        check_batch_size("link", 30_000)
    assert check_batch_size("link", 30_000, max_batch_size=40_000) == 30_000
    assert check_batch_size("link", None, max_batch_size=10) == 10
    with pytest.raises(ita.RequestValidationError, match="hard limit of 100000"):
        check_batch_size("update", 6000, max_batch_size=200_000)
    with pytest.raises(ita.RequestValidationError, match="max_batch_size"):
        check_batch_size("link", 10, max_batch_size=0)


@pytest.mark.parametrize("bad", ["", "x" * 65, "has space", "caf\u00e9", "tab\t", "run\n", 7])
def test_run_id_is_validated_before_anything_is_journaled(bad: object, tmp_path: Path) -> None:
    """Non-ASCII, unprintable, spaced, empty or over-long run ids are refused up front."""
    journal = tmp_path / "j.sqlite"
    with pytest.raises(ita.RequestValidationError, match="run_id"):
        ita.BatchOrchestrator(object(), "proj", run_id=bad, journal=journal)  # type: ignore[arg-type]
    assert not journal.exists()


async def test_lazy_input_is_validated_per_chunk() -> None:
    """An iterator is consumed lazily; a bad id stops at its chunk."""
    pulled = []

    def ids() -> Iterator[str]:
        for i in range(10):
            pulled.append(i)
            yield "bad id" if i == 5 else f"fil.{i}"

    chunks = chunk_data_ids(ids(), 2)
    first = await anext(chunks)
    assert first.keys == ["fil.0", "fil.1"]
    assert pulled == [0, 1]
    with pytest.raises(ita.RequestValidationError, match=r"data_ids\[5\]"):
        async for _ in chunks:
            pass


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"journal": 42}, "journal"),
        ({"lease_ttl": 0}, "lease_ttl"),
        ({"lease_ttl": True}, "lease_ttl"),
        ({"key_lifetime": -1.0}, "key_lifetime"),
    ],
)
def test_bad_orchestrator_options_are_named(kwargs: dict[str, object], field: str) -> None:
    """A wrong journal, lease or key lifetime is a clear error naming the argument."""
    with pytest.raises(ita.RequestValidationError, match=field):
        ita.BatchOrchestrator(object(), "proj", **kwargs)  # type: ignore[arg-type]
    if field != "key_lifetime":
        with pytest.raises(ita.RequestValidationError, match=field):
            ita.TransferOrchestrator(object(), **kwargs)  # type: ignore[arg-type]
