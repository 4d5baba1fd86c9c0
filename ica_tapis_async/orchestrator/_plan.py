"""Chunking the input lazily into batches, with deterministic idempotency keys."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import attrs

from .._converter import dumps
from .._errors import RequestValidationError
from ..models import (
    CreateAnalysisCreationBatch,
    CreateCwlAnalysis,
    CreateNextflowAnalysis,
    CreateNextflowJsonAnalysis,
    CreateProjectDataLinkingBatch,
    CreateProjectDataLinkingBatchItem,
    CreateProjectDataUpdateBatch,
    DataUpdateGroup,
)
from ._journal_protocol import Journal

__all__ = (
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "AnalysisRequest",
    "Chunk",
    "Kind",
    "batch_cap",
    "check_journal_spec",
    "check_positive",
    "check_run_id",
    "chunk_analyses",
    "chunk_data_ids",
    "chunk_update_groups",
    "chunk_key",
)

Kind = Literal["link", "update", "analysis"]
AnalysisRequest = CreateCwlAnalysis | CreateNextflowAnalysis | CreateNextflowJsonAnalysis

#: Default caps per chunk: linking advises <= 25,000 links (given for V3; the cap for our V4
#: batches too, raised with ``max_batch_size``); update advises <= 5,000 data ids (and refuses
#: > 100,000); analysis batches have no documented limit, so we stay modest.
MAX_BATCH_SIZE: Final[dict[Kind, int]] = {"link": 25_000, "update": 5_000, "analysis": 1_000}
#: Hard limits no ``max_batch_size`` can pass: the server refuses bigger update batches.
_HARD_LIMIT: Final[dict[Kind, int]] = {"update": 100_000}
_RUN_ID = re.compile(r"[\x21-\x7e]{1,64}")
DEFAULT_BATCH_SIZE: Final[dict[Kind, int]] = {"link": 1_000, "update": 1_000, "analysis": 100}

MAX_ID_LENGTH = 255
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
#: A NUL character as JSON writes it. A text with a literal backslash before "u0000" also
#: contains it, so a match is only a reason to look at the strings themselves.
_ESCAPED_NUL: Final = b"\\u0000"
_NUL_SLICE: Final = 500


@attrs.define
class Chunk:
    """One batch to send: its index, its keys (data ids or user references) and its body.

    Attributes:
        keys: one entry per input item, in input order; the name the server's items come back
            under (``dataId`` or ``userReference``).
        duplicates: input items collapsed into an earlier identical one in this chunk.
        body: the request model to send.
        digest: hash of the body, part of the idempotency key.
    """

    index: int
    keys: list[str]
    body: Any
    digest: str
    duplicates: list[str] = attrs.field(factory=list)
    _requests: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False)

    def request_of(self, key: str) -> Any:
        """The input item behind ``key``: the data id, its update group, or the analysis."""
        if self._requests is None:
            if isinstance(self.body, CreateProjectDataUpdateBatch):
                self._requests = {
                    data_id: group
                    for group in self.body.data_update_groups
                    for data_id in group.data_ids
                }
            elif isinstance(self.body, CreateAnalysisCreationBatch):
                self._requests = {
                    r.user_reference: r
                    for r in (
                        *(self.body.cwl_items or ()),
                        *(self.body.nextflow_items or ()),
                        *(self.body.nextflow_json_items or ()),
                    )
                }
            else:
                self._requests = {}
        return self._requests.get(key, key)


def chunk_key(run_id: str, kind: Kind, index: int, digest: str) -> str:
    """The deterministic Idempotency-Key of a chunk (<= 255 characters).

    Same run, same chunk, same body -> same key, so a resumed or retried chunk replays instead
    of creating twice; a changed body gets a different key instead of a 422.
    """
    return f"ita-{run_id[:64]}-{kind}-{index:08d}-{digest[:32]}"


def _digest(body: Any, items: Iterable[tuple[str, Any]] = ()) -> str:
    """The body's hash; refuses a NUL in any of ``items`` (where, input item) it is made of."""
    data = dumps(body)
    if _ESCAPED_NUL in data:
        refuse_nul(items)
    return hashlib.sha256(data).hexdigest()


def refuse_nul(items: Iterable[tuple[str, Any]]) -> None:
    """Refuse the first string with a NUL in ``items`` (where, input item): a PostgreSQL
    journal cannot store it, and would refuse the chunk only after its batch was created.

    Raises:
        RequestValidationError: naming the item and the field, e.g. ``items[3].user_reference``.
    """
    for where, item in items:
        path = _nul_path(item, where)
        if path is not None:
            raise RequestValidationError(
                "contains a NUL character (U+0000), which a PostgreSQL journal cannot store; "
                "remove it",
                field=path,
            )


def _nul_path(value: Any, where: str) -> str | None:
    """Where in ``value`` (a model, a list or a string) a string holds a NUL, or ``None``."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, list | tuple):
        named = [(f"{where}[{i}]", item) for i, item in enumerate(value)]
    elif attrs.has(type(value)):
        named = [(f"{where}.{a.name}", getattr(value, a.name)) for a in attrs.fields(type(value))]
    else:
        return None
    for inner, item in named:
        if (found := _nul_path(item, inner)) is not None:
            return found
    return None


def check_data_id(value: object, where: str) -> str:
    """A data id: 1-255 characters of letters, digits and ``._:-``."""
    if not isinstance(value, str) or not value:
        raise RequestValidationError(f"must be a non-empty string, got {value!r}", field=where)
    if len(value) > MAX_ID_LENGTH:
        raise RequestValidationError(
            f"is {len(value)} characters; at most {MAX_ID_LENGTH}", field=where
        )
    if not _ID.fullmatch(value):
        raise RequestValidationError(f"is not a valid data id: {value!r}", field=where)
    return value


async def _aiter(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def check_run_id(run_id: object) -> str:
    """A run id: 1-64 printable ASCII characters without spaces (it goes into HTTP headers)."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise RequestValidationError(
            f"must be 1-64 printable ASCII characters without spaces, got {run_id!r}",
            field="run_id",
        )
    return run_id


def check_journal_spec(journal: object) -> None:
    """A ``journal=`` argument: ``None``, a path, a database URL or a :class:`Journal`."""
    if journal is None or isinstance(journal, str | Path | Journal):
        return
    raise RequestValidationError(
        "must be a path, a postgresql:// URL or a Journal, not " + type(journal).__name__,
        field="journal",
    )


def check_positive(name: str, value: object) -> float:
    """A positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise RequestValidationError(f"must be a positive number, got {value!r}", field=name)
    return float(value)


def batch_cap(kind: Kind, max_batch_size: int | None) -> int:
    """The largest batch allowed for ``kind``: the default cap, or the caller's raised one."""
    if max_batch_size is None:
        return MAX_BATCH_SIZE[kind]
    if (
        isinstance(max_batch_size, bool)
        or not isinstance(max_batch_size, int)
        or max_batch_size < 1
    ):
        raise RequestValidationError("must be a positive int", field="max_batch_size")
    hard = _HARD_LIMIT.get(kind)
    if hard is not None and max_batch_size > hard:
        raise RequestValidationError(
            f"{max_batch_size} is over the server's hard limit of {hard} for {kind} batches",
            field="max_batch_size",
        )
    return max_batch_size


def check_batch_size(kind: Kind, batch_size: int | None, max_batch_size: int | None = None) -> int:
    """The batch size for ``kind``: the default, or the caller's if within the cap.

    The cap is :data:`MAX_BATCH_SIZE` (for links the spec's advice of 25,000) unless the caller
    raised it with ``max_batch_size``.
    """
    cap = batch_cap(kind, max_batch_size)
    if batch_size is None:
        return min(DEFAULT_BATCH_SIZE[kind], cap)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise RequestValidationError("must be a positive int", field="batch_size")
    if batch_size > cap:
        raise RequestValidationError(
            f"{batch_size} is over the cap of {cap} for {kind} batches; pass "
            f"max_batch_size={batch_size} to raise it deliberately",
            field="batch_size",
        )
    return batch_size


def prevalidate(kind: Kind, items: object) -> None:
    """Check a whole in-memory input before anything is sent (lazy inputs are checked per chunk)."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        if isinstance(items, str | bytes):
            raise RequestValidationError(
                "must be an iterable of items, not a string", field="items"
            )
        return
    if not items:
        raise RequestValidationError("is empty: nothing to do", field="items")
    if kind == "link":
        for i, value in enumerate(items):
            check_data_id(value, f"data_ids[{i}]")
        return  # a valid data id has no NUL
    if kind == "update":
        for i, group in enumerate(items):
            _check_group(group, i)
    else:
        seen: set[str] = set()
        for i, request in enumerate(items):
            _check_analysis(request, i, seen)
    # Chunks are built lazily, some after earlier ones were sent, so a NUL is looked for in
    # the whole input here: serialized in slices (microseconds an item; one huge list is slower),
    # and only a slice that has one is walked to name the field.
    name = "groups" if kind == "update" else "items"
    for start in range(0, len(items), _NUL_SLICE):
        part = list(items[start : start + _NUL_SLICE])
        if _ESCAPED_NUL in dumps(part):
            refuse_nul((f"{name}[{i}]", item) for i, item in enumerate(part, start))


def _check_group(group: object, i: int) -> DataUpdateGroup:
    if not isinstance(group, DataUpdateGroup):
        raise RequestValidationError(
            f"must be a DataUpdateGroup, got {type(group).__name__}", field=f"groups[{i}]"
        )
    if not group.data_ids:
        raise RequestValidationError("has no data ids", field=f"groups[{i}].data_ids")
    for j, value in enumerate(group.data_ids):
        check_data_id(value, f"groups[{i}].data_ids[{j}]")
    return group


def _check_analysis(request: object, i: int, seen: set[str]) -> AnalysisRequest:
    if not isinstance(
        request, CreateCwlAnalysis | CreateNextflowAnalysis | CreateNextflowJsonAnalysis
    ):
        raise RequestValidationError(
            "must be CreateCwlAnalysis, CreateNextflowAnalysis or CreateNextflowJsonAnalysis, "
            f"got {type(request).__name__}",
            field=f"items[{i}]",
        )
    ref = request.user_reference
    if not ref or len(ref) > MAX_ID_LENGTH:
        raise RequestValidationError("must be 1-255 characters", field=f"items[{i}].user_reference")
    if ref in seen:
        # The orchestrator follows analyses by userReference: two with one name are ambiguous,
        # and creating both is almost always a mistake in the sample sheet.
        raise RequestValidationError(
            f"{ref!r} appears twice; user references must be unique in a run",
            field=f"items[{i}].user_reference",
        )
    seen.add(ref)
    return request


async def chunk_data_ids(
    items: Iterable[str] | AsyncIterable[str], size: int
) -> AsyncIterator[Chunk]:
    """Chunks of ``size`` data ids; a repeat within a chunk is sent once and marked duplicate.

    A repeat in a later chunk is sent again: the server then reports it ALREADY_LINKED.
    """
    index, position = 0, 0
    keys: list[str] = []
    placed: dict[str, int] = {}  # each key's place in ``keys``
    duplicates: list[str] = []
    order: list[int] = []  # per input item of the chunk, the place of its key
    async for value in _aiter(items):
        check_data_id(value, f"data_ids[{position}]")
        position += 1
        if value in placed:
            duplicates.append(value)
            order.append(placed[value])
            continue
        placed[value] = len(keys)
        order.append(len(keys))
        keys.append(value)
        if len(keys) == size:
            yield _link_chunk(index, keys, duplicates, order)
            index, keys, placed, duplicates, order = index + 1, [], {}, [], []
    if keys:
        yield _link_chunk(index, keys, duplicates, order)
    elif position == 0:
        raise RequestValidationError("is empty: nothing to do", field="data_ids")


def _link_chunk(index: int, keys: list[str], duplicates: list[str], order: list[int]) -> Chunk:
    body = CreateProjectDataLinkingBatch([CreateProjectDataLinkingBatchItem(k) for k in keys])
    digest = _digest(body)
    if duplicates:
        # Repeats are input items too (each gets a DUPLICATE outcome), though never sent: input
        # that differs from a journaled run only by repeats is other input, not a replay whose
        # report has more or fewer outcomes than the input has items.
        repeats = dumps({"duplicates": duplicates, "order": order})
        digest = hashlib.sha256(digest.encode() + b"|" + repeats).hexdigest()
    return Chunk(index, keys, body, digest, duplicates)


async def chunk_update_groups(
    groups: Iterable[DataUpdateGroup] | AsyncIterable[DataUpdateGroup], size: int
) -> AsyncIterator[Chunk]:
    """Chunks of at most ``size`` data ids; big groups are split, each data id once per chunk.

    A data id appears at most once per chunk so that its item maps back unambiguously.
    """
    index, position = 0, 0
    out_groups: list[tuple[str, DataUpdateGroup]] = []  # each with the input group it is from
    keys: list[str] = []
    seen: set[str] = set()
    async for group in _aiter(groups):
        _check_group(group, position)
        where = f"groups[{position}]"
        position += 1
        current: list[str] = []
        for data_id in group.data_ids:
            if len(keys) == size or data_id in seen:
                if current:
                    out_groups.append((where, attrs.evolve(group, data_ids=current)))
                    current = []
                yield _update_chunk(index, keys, out_groups)
                index, out_groups, keys, seen = index + 1, [], [], set()
            current.append(data_id)
            keys.append(data_id)
            seen.add(data_id)
        if current:
            out_groups.append((where, attrs.evolve(group, data_ids=current)))
    if keys:
        yield _update_chunk(index, keys, out_groups)
    elif position == 0:
        raise RequestValidationError("is empty: nothing to do", field="groups")


def _update_chunk(index: int, keys: list[str], groups: list[tuple[str, DataUpdateGroup]]) -> Chunk:
    body = CreateProjectDataUpdateBatch([group for _, group in groups])
    return Chunk(index, keys, body, _digest(body, groups))


async def chunk_analyses(
    requests: Iterable[AnalysisRequest] | AsyncIterable[AnalysisRequest], size: int
) -> AsyncIterator[Chunk]:
    """Chunks of at most ``size`` analysis requests, keyed by user reference."""
    index, position = 0, 0
    seen: set[str] = set()
    batch: list[AnalysisRequest] = []

    def flush() -> Chunk:
        body = CreateAnalysisCreationBatch(
            cwl_items=[r for r in batch if isinstance(r, CreateCwlAnalysis)] or None,
            nextflow_items=[r for r in batch if isinstance(r, CreateNextflowAnalysis)] or None,
            nextflow_json_items=[r for r in batch if isinstance(r, CreateNextflowJsonAnalysis)]
            or None,
        )
        first = position - len(batch)  # the input position of batch[0]
        where = ((f"items[{first + i}]", r) for i, r in enumerate(batch))
        return Chunk(index, [r.user_reference for r in batch], body, _digest(body, where))

    async for request in _aiter(requests):
        _check_analysis(request, position, seen)
        position += 1
        batch.append(request)
        if len(batch) == size:
            yield flush()
            index, batch = index + 1, []
    if batch:
        yield flush()
    elif position == 0:
        raise RequestValidationError("is empty: nothing to do", field="items")
