"""``ica.data_update_batches``: change tags and archive/delete dates of data in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Unpack

import attrs

from ..._checks import check_bool
from ..._config import RequestOptions
from ..._core._request import ICA_V3
from ..._errors import RequestValidationError
from ...models import (
    CreateProjectDataUpdateBatch,
    DataUpdateGroup,
    ProjectDataUpdateBatch,
    ProjectDataUpdateBatchItem,
    ProjectDataUpdateBatchItemPagedList,
)
from .._base import check_id, check_ids
from ._batch_base import BatchResource

__all__ = ("MAX_UPDATE_IDS", "RECOMMENDED_UPDATE_IDS", "DataUpdateBatches")

#: The server refuses update batches with more data ids than this.
MAX_UPDATE_IDS = 100_000
#: The spec advises at most this many data ids per call.
RECOMMENDED_UPDATE_IDS = 5_000


def _whole_seconds(group: DataUpdateGroup) -> DataUpdateGroup:
    """The API takes archive/delete times as ``yyyy-MM-dd'T'HH:mm:ss'Z'``: drop sub-seconds."""
    changes = {
        name: when.replace(microsecond=0)
        for name in ("will_be_archived_at", "will_be_deleted_at")
        if (when := getattr(group, name)) is not None and when.microsecond
    }
    return attrs.evolve(group, **changes) if changes else group


class DataUpdateBatches(BatchResource[ProjectDataUpdateBatch, ProjectDataUpdateBatchItem]):
    """Project data update batches (v3 only): tags, ``willBeArchivedAt``, ``willBeDeletedAt``.

    Example::

        group = DataUpdateGroup(["fil.1", "fil.2"], user_tags=TagUpdate(add_tags=["qc"]))
        batch = await ica.data_update_batches.create(project_id, [group])
    """

    _path = "/api/projects/{projectId}/dataUpdateBatch"
    _batch_model = ProjectDataUpdateBatch
    _item_model = ProjectDataUpdateBatchItem
    _page_model = ProjectDataUpdateBatchItemPagedList
    _get_accept = ICA_V3
    _item_accept = ICA_V3
    _name = "ProjectDataUpdateBatch"

    async def create(
        self,
        project_id: str,
        groups: Sequence[DataUpdateGroup],
        *,
        retry_safe: bool = False,
        **options: Unpack[RequestOptions],
    ) -> ProjectDataUpdateBatch:
        """Create an update batch; each group applies its changes to its data ids.

        Applying the same update twice gives the same result, but the API takes no
        Idempotency-Key, so a lost answer is retried only with ``retry_safe=True``.

        Raises:
            RequestValidationError: no groups, a group without data ids, or more than
                100,000 data ids in all.
        """
        if isinstance(groups, DataUpdateGroup) or not isinstance(groups, Sequence):
            raise RequestValidationError("must be a list of DataUpdateGroup", field="groups")
        if not groups:
            raise RequestValidationError("must not be empty", field="groups")
        total = 0
        for i, group in enumerate(groups):
            if not isinstance(group, DataUpdateGroup):
                raise RequestValidationError(
                    f"must be a DataUpdateGroup, got {type(group).__name__}", field=f"groups[{i}]"
                )
            total += len(check_ids(f"groups[{i}].data_ids", group.data_ids))
            for name in ("will_be_archived_at", "will_be_deleted_at"):
                when = getattr(group, name)
                if when is not None and not isinstance(when, datetime):
                    raise RequestValidationError(
                        f"must be a datetime, got {type(when).__name__}",
                        field=f"groups[{i}].{name}",
                    )
        if total > MAX_UPDATE_IDS:
            raise RequestValidationError(
                f"{total} data ids in all; the server refuses more than {MAX_UPDATE_IDS}",
                field="groups",
            )
        request = self._request(
            "POST",
            self._path,
            path={"projectId": check_id("project_id", project_id)},
            accept=ICA_V3,
            content_type=ICA_V3,
            body=CreateProjectDataUpdateBatch([_whole_seconds(g) for g in groups]),
            idempotent=check_bool("retry_safe", retry_safe),
            body_name="groups",
            operation="createProjectDataUpdateBatch",
        )
        return await self._call(request, ProjectDataUpdateBatch, options)
