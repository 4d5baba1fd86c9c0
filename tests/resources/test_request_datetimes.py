"""Datetimes sent to ICA: converted to UTC and written ``yyyy-MM-dd'T'HH:mm:ss'Z'``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import ICA, PROJECT, batch, sent

BASE = f"{ICA}/api/projects/{PROJECT}/dataUpdateBatch"


@pytest.mark.parametrize(
    ("when", "wire"),
    [
        (datetime(2030, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2029-12-31T23:30:00Z"),
        (
            datetime(2030, 6, 1, 20, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=-5))),
            "2030-06-02T01:00:00Z",
        ),
        (datetime(2030, 1, 30, 8, 30, tzinfo=UTC), "2030-01-30T08:30:00Z"),
    ],
)
async def test_update_batch_times_go_out_in_utc_whole_seconds(
    http: FakeTransport, ica: ita.IcaClient, when: datetime, wire: str
) -> None:
    """Regression: a ``+02:00`` time went on the wire with its offset, not in UTC."""
    http.post(BASE, status=201, payload=batch("INITIALIZED"))
    group = ita.DataUpdateGroup(["fil.1"], will_be_archived_at=when, will_be_deleted_at=when)
    await ica.data_update_batches.create(PROJECT, [group])
    [(_, kwargs)] = sent(http, "POST")
    sent_group = orjson.loads(kwargs["data"])["dataUpdateGroups"][0]
    assert sent_group["willBeArchivedAt"] == wire
    assert sent_group["willBeDeletedAt"] == wire
