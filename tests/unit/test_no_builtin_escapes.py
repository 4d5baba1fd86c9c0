"""Every public method, driven through a table of careless inputs, raises only library errors.

The README promises that no aiohttp, asyncio, attrs or builtin exception escapes a public
method. Each method below gets every argument replaced, one at a time, by each hostile value,
and then every per-call option; the real aiohttp transport talks to the in-process simulator,
so aiohttp's own checks (header injection, URL parsing) run as they do in production.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

UUID = "00000000-0000-0000-0000-000000000000"
NEVER = ita.RetryPolicy.never()

HOSTILE: list[object] = [
    None,
    0,
    -1,
    1.5,
    True,
    math.nan,
    math.inf,
    "",
    " padded ",
    "line\n",
    "x\r\nX-Injected: 1",
    "nul\x00",
    "lone\ud800surrogate",
    10**400,  # too large for a float
    b"bytes",
    [None],
    ["a", None],
    [5],
    {"a": 1},
    object(),
]

_NEXTFLOW = ita.CreateNextflowAnalysis(
    "ref-1", "pipeline-1", ita.NextflowAnalysisInput(inputs=[], parameters=[])
)
# Valid arguments of each public method; each is then replaced by every hostile value.
Call = tuple[str, str, dict[str, Any]]
ICA_BATCH_READS: list[Call] = [
    (f"{kind}.{method}", "ica", args)
    for kind in ("data_linking_batches", "data_update_batches", "analysis_creation_batches")
    for method, args in (
        ("get", {"project_id": "p", "batch_id": UUID}),
        ("get_item", {"project_id": "p", "batch_id": UUID, "item_id": "i"}),
        ("list_items", {"project_id": "p", "batch_id": UUID, "status": ["A"], "page_size": 5}),
        ("list_item_summaries", {"project_id": "p", "batch_id": UUID, "status": "A"}),
    )
]
CALLS: list[Call] = [
    *ICA_BATCH_READS,
    (
        "data_linking_batches.create",
        "ica",
        {"project_id": "p", "data_ids": ["fil.1"], "retry_safe": False, "max_links": 10},
    ),
    (
        "data_update_batches.create",
        "ica",
        {"project_id": "p", "groups": [ita.DataUpdateGroup(["fil.1"])], "retry_safe": True},
    ),
    (
        "analysis_creation_batches.create",
        "ica",
        {
            "project_id": "p",
            "request": ita.CreateAnalysisCreationBatch(nextflow_items=[_NEXTFLOW]),
            "idempotency_key": "key-1",
        },
    ),
    (
        "data_transfers.list",
        "ica",
        {
            "project_id": "p",
            "connector": "c",
            "direction": "UPLOAD",
            "status": "ONGOING",
            "sort": "status",
            "page_size": 5,
            "page_offset": 0,
        },
    ),
    ("data_transfers.get", "ica", {"project_id": "p", "transfer_id": "t"}),
    ("data_transfers.abort", "ica", {"project_id": "p", "transfer_id": "t", "retry_safe": True}),
    ("tokens.create", "ica", {"tenant": "t", "username": "u", "password": "pw"}),
    ("tokens.refresh", "ica-bearer", {}),
    ("tokens.create", "ica-user-info", {"username": "u", "password": "pw"}),
    ("data_transfers.get", "ica-user-info", {"project_id": "p", "transfer_id": "t"}),
    (
        "transfers.create",
        "tapis",
        {"elements": [ita.ReqTransferElement("tapis://a/x", "tapis://b/x")], "tag": "t"},
    ),
    ("transfers.get", "tapis", {"transfer_task_id": UUID, "include_summary": True}),
    ("transfers.details", "tapis", {"transfer_task_id": UUID, "impersonation_id": "u"}),
    ("transfers.cancel", "tapis", {"transfer_task_id": UUID}),
    ("transfers.list_recent", "tapis", {"page_size": 5}),
]
# Model contents a caller can get wrong: attrs models do not check their fields' types.
# The package seen untyped: these models get wrong types on purpose.
_ita: Any = ita
BAD_BODIES: list[Call] = (
    [
        (
            "data_update_batches.create",
            "ica",
            {"project_id": "p", "groups": [_ita.DataUpdateGroup(["f"], will_be_archived_at=bad)]},
        )
        for bad in ("2030-01-01", 5)
    ]
    + [
        (
            "data_update_batches.create",
            "ica",
            {"project_id": "p", "groups": [_ita.DataUpdateGroup(bad)]},
        )
        for bad in (None, "fil.1", [None])
    ]
    + [
        (
            "analysis_creation_batches.create",
            "ica",
            {"project_id": "p", "request": _ita.CreateAnalysisCreationBatch(nextflow_items=bad)},
        )
        for bad in (5, [5], [None], "x")
    ]
    + [
        (
            "transfers.create",
            "tapis",
            {"elements": [_ita.ReqTransferElement(*bad)]},
        )
        for bad in ((5, "b"), ("a", None), ("a\n", "b"))
    ]
    + [
        (
            "data_update_batches.create",
            "ica",
            {
                "project_id": "p",
                "groups": [_ita.DataUpdateGroup(["f"], user_tags=_ita.TagUpdate(add_tags=bad))],
            },
        )
        for bad in (5, [datetime(2030, 1, 1, tzinfo=UTC)], [object()], [None])
    ]
)
_BAD_TIMEOUTS: tuple[Any, ...] = (0, -1, math.nan, math.inf, "5", True, [])
OPTIONS: list[dict[str, Any]] = (
    [{"timeout": bad} for bad in _BAD_TIMEOUTS]
    + [{"max_retries": bad} for bad in (-1, 1.5, True, "1", None)]
    + [{"retry": bad} for bad in ("never", 3, None)]
    + [
        {"extra_headers": bad}
        for bad in (
            5,
            {"X": "a\nb"},
            {"X Y": "z"},
            {5: "z"},
            {"X": 5},
            [("X", "1")],
            {"Content-Length": "x"},
        )
    ]
    + [
        {"on_retry": 5},
        {"before_attempt": "soon"},
        {"max_retry": 0},
        {"timeouts": 5},
    ]
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """One simulator for a whole table."""
    async with Simulator() as simulator:
        yield simulator


def _client(sim: Simulator, kind: str) -> ita.IcaClient | ita.TapisClient:
    if kind == "tapis":
        return ita.TapisClient(sim.tapis_url, token="jwt-1", retry=NEVER)
    if kind == "ica-user-info":  # sent by aiohttp as an Authorization header of its own
        url = sim.ica_url.replace("http://", "http://proxy:pw@")
        return ita.IcaClient(url, api_key="key-1", retry=NEVER)
    if kind == "ica-bearer":
        return ita.IcaClient(sim.ica_url, access_token="jwt-1", retry=NEVER)
    return ita.IcaClient(sim.ica_url, api_key="key-1", retry=NEVER)


def _method(client: object, path: str) -> Callable[..., Any]:
    resource, method = path.split(".")
    bound: Callable[..., Any] = getattr(getattr(client, resource), method)
    return bound


async def _outcome(sim: Simulator, call: Call, **changes: Any) -> BaseException | None:
    """What the call raised (``None`` for nothing): an answer, or a refusal."""
    path, kind, args = call
    try:
        async with _client(sim, kind) as client:
            result = _method(client, path)(**{**args, **changes})
            if isinstance(result, ita.AsyncPaginator):
                await result.collect(limit=3)
            else:
                await result
    except ita.IcaTapisError:
        return None
    except Exception as exc:  # the defect under test: anything else escaped
        return exc
    return None


def _escaped(found: list[tuple[str, BaseException]]) -> list[str]:
    return [f"{where}: {type(exc).__module__}.{type(exc).__name__}: {exc}" for where, exc in found]


async def test_no_builtin_aiohttp_or_attrs_exception_escapes_an_argument(sim: Simulator) -> None:
    """Every argument of every public method, replaced by every hostile value."""
    found: list[tuple[str, BaseException]] = []
    for call in CALLS:
        for name in call[2]:
            for value in HOSTILE:
                exc = await _outcome(sim, call, **{name: value})
                if exc is not None:
                    found.append((f"{call[0]}({name}={value!r})", exc))
    assert not found, "\n".join(_escaped(found))


async def test_no_foreign_exception_escapes_a_badly_filled_model(sim: Simulator) -> None:
    """Request models holding values of the wrong type are refused as library errors."""
    found: list[tuple[str, BaseException]] = []
    for call in BAD_BODIES:
        exc = await _outcome(sim, call)
        if exc is not None:
            found.append((f"{call[0]}({call[2]!r})", exc))
    assert not found, "\n".join(_escaped(found))


async def test_no_foreign_exception_escapes_a_per_call_option(sim: Simulator) -> None:
    """Every public method, with each wrong-typed or unknown per-call option."""
    found: list[tuple[str, BaseException]] = []
    for call in CALLS:
        for options in OPTIONS:
            exc = await _outcome(sim, call, **options)
            if exc is not None:
                found.append((f"{call[0]}(**{options!r})", exc))
    assert not found, "\n".join(_escaped(found))


CONSTRUCTOR_ARGS: dict[str, list[object]] = {
    "base_url": [
        *HOSTILE,
        "http://127.0.0.1:99999/x",
        "http://[::1/x",
        "http:///x",
        "ftp://127.0.0.1/x",
        "http://127.0.0.1:9/x\\y",
        "http://127.0.0.1:9/x?q=1",
        "http://u:p@127.0.0.1:9/x",
    ],
    "api_key": HOSTILE,
    "access_token": HOSTILE,
    "exchange_api_key": HOSTILE,
    "session": HOSTILE,
    "timeouts": HOSTILE,
    "retry": HOSTILE,
    "rate_limit": HOSTILE,
    "user_agent": HOSTILE,
    "extra_headers": HOSTILE,
    "max_connections": HOSTILE,
    "unreachable_after": HOSTILE,
    "max_body_size": HOSTILE,
    "transport": HOSTILE,
    "limiter": HOSTILE,
    "clock": HOSTILE,
    "sleep": HOSTILE,
    "telemetry": HOSTILE,
}


async def test_no_foreign_exception_escapes_a_constructor_argument(sim: Simulator) -> None:
    """IcaClient and TapisClient with each argument hostile, then one call each."""
    found: list[tuple[str, BaseException]] = []
    for name, values in CONSTRUCTOR_ARGS.items():
        for value in values:
            for kind in ("ica", "tapis"):
                if kind == "tapis" and name in ("api_key", "access_token", "exchange_api_key"):
                    continue
                exc = await _construct_and_call(sim, kind, name, value)
                if exc is not None:
                    found.append((f"{kind} {name}={value!r}", exc))
    assert not found, "\n".join(_escaped(found))


async def _construct_and_call(
    sim: Simulator, kind: str, name: str, value: object
) -> BaseException | None:
    base = sim.tapis_url if kind == "tapis" else sim.ica_url
    args: dict[str, Any] = {"base_url": base, "retry": NEVER, "unreachable_after": 0.5}
    args.update({"token": "jwt-1"} if kind == "tapis" else {"api_key": "key-1"})
    args[name] = value
    cls: Any = ita.TapisClient if kind == "tapis" else ita.IcaClient
    try:
        async with cls(**args) as client:
            if kind == "tapis":
                await client.transfers.get(UUID)
            else:
                await client.data_transfers.get("p", "t")
            copy = client.with_options(timeouts=value) if name == "timeouts" else client
            await (copy.transfers.get(UUID) if kind == "tapis" else copy.tokens.create())
    except ita.IcaTapisError:
        return None
    except Exception as exc:  # the defect under test: anything else escaped
        return exc
    return None
