"""ica.data_transfers: list filters, cursor vs offset paging, get, abort."""

from __future__ import annotations

import re

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import ICA, PROJECT, UUID, data_transfer, queries, sent

BASE = f"{ICA}/api/projects/{PROJECT}/dataTransfers"
LIST = re.compile(re.escape(BASE) + r"\?.*")


def tid(n: int) -> str:
    """A transfer id."""
    return f"3f1e8d0a-0000-4000-8000-{n:012d}"


async def test_list_cursor_with_filters(http: FakeTransport, ica: ita.IcaClient) -> None:
    """Filters are single strings; cursor paging by default."""
    http.get(LIST, payload={"items": [data_transfer(tid(1))], "nextPageToken": "n1"})
    http.get(LIST, payload={"items": [data_transfer(tid(2))], "nextPageToken": ""})
    got = [
        t.id
        async for t in ica.data_transfers.list(
            PROJECT, direction="UPLOAD", status="ONGOING", connector="c-1", page_size=1
        )
    ]
    assert got == [tid(1), tid(2)]
    base = [("connector", "c-1"), ("direction", "UPLOAD"), ("pageSize", "1"), ("status", "ONGOING")]
    assert queries(http) == sorted([base, sorted([*base, ("pageToken", "n1")])])


async def test_list_sorted_uses_offsets(http: FakeTransport, ica: ita.IcaClient) -> None:
    """sort switches to offset paging (the API sorts only there)."""
    http.get(
        LIST,
        payload={
            "items": [data_transfer(tid(i)) for i in range(2)],
            "nextPageToken": "",
            "totalItemCount": 3,
        },
    )
    http.get(
        LIST, payload={"items": [data_transfer(tid(2))], "nextPageToken": "", "totalItemCount": 3}
    )
    got = await ica.data_transfers.list(
        PROJECT, sort="status, dataTransferred desc", page_size=2
    ).collect()
    assert len(got) == 3
    sort = ("sort", "status, dataTransferred desc")
    assert queries(http) == [
        [("pageOffset", "0"), ("pageSize", "2"), sort],
        [("pageOffset", "2"), ("pageSize", "2"), sort],
    ]


async def test_get_and_abort(http: FakeTransport, ica: ita.IcaClient) -> None:
    """get returns the model; abort POSTs to `:abort` with no body and returns None."""
    http.get(
        f"{BASE}/{UUID}", payload=data_transfer(status="ABORTREQUESTED"), headers={"ETag": '"1"'}
    )
    http.post(f"{BASE}/{UUID}:abort", status=204)
    got = await ica.data_transfers.get(PROJECT, UUID)
    assert got.status == ita.DataTransferStatus.ABORTREQUESTED
    await ica.data_transfers.abort(PROJECT, UUID)
    [(url, kwargs)] = sent(http, "POST")
    assert url.endswith(f"/dataTransfers/{UUID}:abort")
    assert kwargs["data"] is None


async def test_offset_paging_goes_on_past_a_short_page(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """A page capped below page_size does not end paging while totalItemCount says more remain."""
    for page in ([0, 1], [2], [3, 4]):
        items = [data_transfer(tid(i)) for i in page]
        http.get(LIST, payload={"items": items, "totalItemCount": 5})
    got = [t.id async for t in ica.data_transfers.list(PROJECT, page_offset=0, page_size=3)]
    assert got == [tid(i) for i in range(5)]
    offsets = [dict(q)["pageOffset"] for q in queries(http)]
    assert sorted(offsets) == ["0", "2", "3"]


async def test_offset_paging_of_a_server_ignoring_the_offset_raises(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """The same page again for the next offset is a PaginationError, not an endless loop."""
    items = [data_transfer(tid(i)) for i in range(2)]
    http.get(LIST, payload={"items": items, "totalItemCount": 1000}, repeat=True)
    with pytest.raises(ita.PaginationError, match="ignores the offset"):
        await ica.data_transfers.list(PROJECT, sort="status", page_size=2).collect()
    assert len(http.sent) == 2
