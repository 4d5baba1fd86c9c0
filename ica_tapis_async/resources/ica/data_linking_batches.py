"""``ica.data_linking_batches``: link existing data into a project in bulk."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Unpack

from ..._checks import check_bool
from ..._config import RequestOptions
from ..._core._request import ICA_V3, ICA_V4
from ..._errors import RequestValidationError
from ...models import (
    CreateProjectDataLinkingBatch,
    CreateProjectDataLinkingBatchItem,
    ProjectDataLinkingBatch,
    ProjectDataLinkingBatchItemPagedListV4,
    ProjectDataLinkingBatchItemV4,
)
from .._base import check_id, check_ids
from ._batch_base import BatchResource

__all__ = ("MAX_LINKS_PER_BATCH", "DataLinkingBatches")

#: The default cap on links per batch. The spec gives 25,000 as advice for V3 batches; V4 is
#: not documented to have a limit, so callers may raise it per call with ``max_links``.
MAX_LINKS_PER_BATCH = 25_000


class DataLinkingBatches(BatchResource[ProjectDataLinkingBatch, ProjectDataLinkingBatchItemV4]):
    """Project data linking batches (V4 media type: a folder item covers its contents).

    Example::

        batch = await ica.data_linking_batches.create(project_id, ["fil.1", "fol.2"])
        async for item in ica.data_linking_batches.list_items(project_id, batch.id):
            print(item.request.data_id, item.processing.status)
    """

    _path = "/api/projects/{projectId}/dataLinkingBatch"
    _batch_model = ProjectDataLinkingBatch
    _item_model = ProjectDataLinkingBatchItemV4
    _page_model = ProjectDataLinkingBatchItemPagedListV4
    _get_accept = ICA_V3  # the batch itself is only served as v3
    _item_accept = ICA_V4
    _name = "ProjectDataLinkingBatch"

    async def create(
        self,
        project_id: str,
        data_ids: Iterable[str],
        *,
        retry_safe: bool = False,
        max_links: int = MAX_LINKS_PER_BATCH,
        **options: Unpack[RequestOptions],
    ) -> ProjectDataLinkingBatch:
        """Create a linking batch for ``data_ids`` (files ``fil.…`` and folders ``fol.…``).

        The API takes no Idempotency-Key here, so a create whose answer is lost is not retried
        unless ``retry_safe=True`` (linking twice is harmless: the second reports
        ALREADY_LINKED). The batch orchestrator does that bookkeeping for you.

        Args:
            project_id: the project to link into.
            data_ids: at most ``max_links`` data ids.
            retry_safe: allow retries of this POST after a lost answer.
            max_links: the cap on ids per batch (default 25,000, the spec's advice for V3);
                raise it deliberately for bigger V4 batches.

        Raises:
            RequestValidationError: empty, blank or too many data ids.
        """
        if isinstance(max_links, bool) or not isinstance(max_links, int) or max_links < 1:
            raise RequestValidationError("must be a positive int", field="max_links")
        ids = check_ids("data_ids", data_ids, maximum=max_links)
        body = CreateProjectDataLinkingBatch(
            [CreateProjectDataLinkingBatchItem(data_id) for data_id in ids]
        )
        request = self._request(
            "POST",
            self._path,
            path={"projectId": check_id("project_id", project_id)},
            accept=ICA_V4,
            content_type=ICA_V4,
            body=body,
            idempotent=check_bool("retry_safe", retry_safe),
            body_name="data_ids",
            operation="createProjectDataLinkingBatch",
        )
        return await self._call(request, ProjectDataLinkingBatch, options)
