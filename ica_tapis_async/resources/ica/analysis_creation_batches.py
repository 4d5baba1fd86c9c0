"""``ica.analysis_creation_batches``: start many analyses in one call, idempotently."""

from __future__ import annotations

from typing import Unpack

from ..._config import RequestOptions
from ..._core._request import ICA_V3, ICA_V4, make_idempotency_key
from ..._errors import RequestValidationError
from ...models import (
    AnalysisCreationBatch,
    AnalysisCreationBatchItemPagedListV4,
    AnalysisCreationBatchItemV4,
    CreateAnalysisCreationBatch,
)
from .._base import check_id
from ._batch_base import BatchResource

__all__ = ("AnalysisCreationBatches",)


class AnalysisCreationBatches(BatchResource[AnalysisCreationBatch, AnalysisCreationBatchItemV4]):
    """Analysis creation batches; items are read with the V4 media type (``AnalysisV4``).

    Example::

        req = CreateAnalysisCreationBatch(nextflow_items=[CreateNextflowAnalysis(...)])
        batch = await ica.analysis_creation_batches.create(project_id, req,
                                                           idempotency_key="run-7-chunk-0")
    """

    _path = "/api/projects/{projectId}/analysisCreationBatch"
    _batch_model = AnalysisCreationBatch
    _item_model = AnalysisCreationBatchItemV4
    _page_model = AnalysisCreationBatchItemPagedListV4
    _get_accept = ICA_V3
    _item_accept = ICA_V4
    _name = "AnalysisCreationBatch"

    async def create(
        self,
        project_id: str,
        request: CreateAnalysisCreationBatch,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AnalysisCreationBatch:
        """Schedule the creation of one analysis per item of ``request``.

        The call always carries an ``Idempotency-Key`` (``idempotency_key``, or a fresh one made
        once for this call), sent unchanged on every retry: a lost answer is retried safely, a
        409 (first attempt still running) is waited out, and a 422 raises
        :class:`IdempotencyConflictError`.

        Args:
            request: the CWL, Nextflow and Nextflow-JSON analyses to create.
            idempotency_key: at most 255 characters; reuse it to replay a create.

        Raises:
            RequestValidationError: no items, or a bad key.
            IdempotencyConflictError: the key was used before with another body.
        """
        if not isinstance(request, CreateAnalysisCreationBatch):
            raise RequestValidationError("must be a CreateAnalysisCreationBatch", field="request")
        if not (request.cwl_items or request.nextflow_items or request.nextflow_json_items):
            raise RequestValidationError("has no analyses to create", field="request")
        key = make_idempotency_key(idempotency_key)
        http_request = self._request(
            "POST",
            self._path,
            path={"projectId": check_id("project_id", project_id)},
            accept=ICA_V3,
            content_type=ICA_V3,
            body=request,
            idempotency_key=key,
            body_name="request",
            operation="createAnalysisCreationBatch",
        )
        return await self._call(http_request, AnalysisCreationBatch, options)
