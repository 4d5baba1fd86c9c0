"""``ica.data_transfers``: watch and abort the project's data transfers."""

from __future__ import annotations

from typing import Unpack

from ..._checks import check_bool
from ..._config import RequestOptions
from ..._core._request import ICA_V3, query
from ..._core._response import is_json_content
from ..._errors import ResponseValidationError
from ..._pagination import AsyncPaginator
from ...models import DataTransfer, DataTransferPagedList
from .._base import Resource, check_filter, check_id, ica_paging

__all__ = ("DataTransfers",)

_PATH = "/api/projects/{projectId}/dataTransfers"


class DataTransfers(Resource):
    """Data transfers of the current app session (browser transfers excluded).

    Example::

        async for t in ica.data_transfers.list(project_id, status="ONGOING"):
            await ica.data_transfers.abort(project_id, t.id)
    """

    def list(
        self,
        project_id: str,
        *,
        connector: str | None = None,
        direction: str | None = None,
        status: str | None = None,
        sort: str | None = None,
        page_size: int = 1000,
        page_offset: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPaginator[DataTransfer]:
        """Iterate over the project's transfers, fetching pages on demand.

        Cursor paging by default; offset paging when ``sort`` or ``page_offset`` is given (the
        API sorts only in offset mode).

        Args:
            connector: a connector id.
            direction: ``UPLOAD``, ``DOWNLOAD`` or ``IMPORT``.
            status: one status, e.g. ``ONGOING``.
            sort: e.g. ``"status, dataTransferred desc"``.
            page_size: transfers per page (1-1000).
            page_offset: first offset for offset paging.
        """
        filters = query(
            connector=check_filter("connector", connector),
            direction=check_filter("direction", direction),
            status=check_filter("status", status),
        )
        check_filter("sort", sort)
        offset = page_offset
        if sort is not None or page_offset is not None:
            # The API sorts only in offset mode.
            filters, offset = [*filters, *query(sort=sort)], page_offset or 0
        paginator: AsyncPaginator[DataTransfer] = self._paginate(
            _PATH,
            path={"projectId": check_id("project_id", project_id)},
            accept=ICA_V3,
            operation="getDataTransfers",
            paging=ica_paging(page_size, filters, offset=offset),
            options=options,
            page_model=DataTransferPagedList,
        )
        return paginator

    async def get(
        self, project_id: str, transfer_id: str, **options: Unpack[RequestOptions]
    ) -> DataTransfer:
        """Fetch one transfer.

        Raises:
            NotFoundError: no such transfer.
        """
        request = self._request(
            "GET",
            _PATH + "/{dataTransferId}",
            path={
                "projectId": check_id("project_id", project_id),
                "dataTransferId": check_id("transfer_id", transfer_id),
            },
            accept=ICA_V3,
            operation="getDataTransfer",
        )
        return await self._call(request, DataTransfer, options)

    async def abort(
        self,
        project_id: str,
        transfer_id: str,
        *,
        retry_safe: bool = False,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Ask the server to abort a transfer (it moves to ABORTREQUESTED, then ABORTED).

        Args:
            retry_safe: allow retries after a lost answer (a repeat of a processed abort
                answers with a conflict, not a second abort).

        Raises:
            ConflictError: the transfer has already finished.
        """
        request = self._request(
            "POST",
            _PATH + "/{dataTransferId}:abort",
            path={
                "projectId": check_id("project_id", project_id),
                "dataTransferId": check_id("transfer_id", transfer_id),
            },
            accept=ICA_V3,
            idempotent=check_bool("retry_safe", retry_safe),
            operation="abortDataTransfer",
        )
        response = await self._dispatcher.send(request, options)
        # ICA answers 204 without a body; a page of HTML (a proxy's, a login form's) with a
        # 2xx is no sign that the abort reached ICA, so it is no success either.
        if response.body.strip() and not is_json_content(response.content_type):
            raise ResponseValidationError(
                f"expected no body, got {response.content_type or 'an untyped body'}",
                model="(abort answer)",
                method=request.method,
                url=request.url,
            )
