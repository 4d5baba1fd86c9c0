"""Span names, attribute keys and metric names: one place, so the README table cannot drift."""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = (
    "ATTR",
    "METRICS",
    "MetricDef",
    "span_name",
)


class _Attr:
    """Attribute keys: OpenTelemetry semantic conventions where one exists, ``ica_tapis.*`` else."""

    HTTP_METHOD: Final = "http.request.method"
    HTTP_STATUS: Final = "http.response.status_code"
    SERVER_ADDRESS: Final = "server.address"
    SERVER_PORT: Final = "server.port"
    URL_TEMPLATE: Final = "url.template"
    ERROR_TYPE: Final = "error.type"
    RESEND_COUNT: Final = "http.request.resend_count"
    OPERATION: Final = "ica_tapis.operation"
    API: Final = "ica_tapis.api"
    ATTEMPTS: Final = "ica_tapis.attempts"
    LIMITER_WAIT: Final = "ica_tapis.limiter.wait_s"
    RETRY_ATTEMPT: Final = "ica_tapis.retry.attempt"
    RETRY_WAIT: Final = "ica_tapis.retry.wait_s"
    RETRY_REASON: Final = "ica_tapis.retry.reason"
    RUN_ID: Final = "ica_tapis.run.id"
    KIND: Final = "ica_tapis.run.kind"
    CHUNK_INDEX: Final = "ica_tapis.chunk.index"
    CHUNK_ITEMS: Final = "ica_tapis.chunk.items"
    CHUNK_STATE: Final = "ica_tapis.chunk.state"
    BATCH_ID: Final = "ica_tapis.batch.id"
    ITEM_STATUS: Final = "ica_tapis.item.status"
    TASK_INDEX: Final = "ica_tapis.task.index"
    TASK_UUID: Final = "ica_tapis.task.uuid"
    TASK_STATUS: Final = "ica_tapis.task.status"
    TASK_FILES: Final = "ica_tapis.task.transfers"
    TASK_FILES_DONE: Final = "ica_tapis.task.transfers.complete"
    #: prefix of the per-status item counts on run and chunk spans (``ica_tapis.items.LINKED``)
    ITEMS_PREFIX: Final = "ica_tapis.items."


ATTR: Final = _Attr()


class MetricDef(NamedTuple):
    """One instrument: its OpenTelemetry name, kind, unit and meaning."""

    name: str
    kind: str  # counter | updowncounter | histogram | gauge
    unit: str
    description: str
    attributes: tuple[str, ...]


class _Metrics:
    REQUEST_DURATION: Final = MetricDef(
        "http.client.request.duration",
        "histogram",
        "s",
        "Duration of each HTTP attempt, from sending to the answer's last byte",
        (
            ATTR.HTTP_METHOD,
            ATTR.SERVER_ADDRESS,
            ATTR.SERVER_PORT,
            ATTR.HTTP_STATUS,
            ATTR.ERROR_TYPE,
        ),
    )
    ACTIVE_REQUESTS: Final = MetricDef(
        "http.client.active_requests",
        "updowncounter",
        "{request}",
        "HTTP attempts in flight",
        (ATTR.HTTP_METHOD, ATTR.SERVER_ADDRESS, ATTR.SERVER_PORT),
    )
    REQUESTS: Final = MetricDef(
        "ica_tapis.client.requests",
        "counter",
        "{request}",
        "HTTP attempts sent (every retry counts)",
        (ATTR.API, ATTR.OPERATION, ATTR.HTTP_METHOD, ATTR.SERVER_ADDRESS),
    )
    RETRIES: Final = MetricDef(
        "ica_tapis.client.retries",
        "counter",
        "{retry}",
        "Attempts repeated after a failed one",
        (ATTR.API, ATTR.OPERATION, ATTR.ERROR_TYPE),
    )
    THROTTLED: Final = MetricDef(
        "ica_tapis.client.throttled",
        "counter",
        "{response}",
        "Answers that asked the client to slow down (429 and throttling bodies)",
        (ATTR.API, ATTR.SERVER_ADDRESS, ATTR.HTTP_STATUS),
    )
    ERRORS: Final = MetricDef(
        "ica_tapis.client.errors",
        "counter",
        "{error}",
        "Calls that ended in an exception, by exception type",
        (ATTR.API, ATTR.OPERATION, ATTR.ERROR_TYPE),
    )
    LIMITER_RATE: Final = MetricDef(
        "ica_tapis.limiter.rate",
        "gauge",
        "{request}/s",
        "Rate the client-side limiter paces requests at now (absent when unpaced)",
        (ATTR.SERVER_ADDRESS,),
    )
    LIMITER_WAIT: Final = MetricDef(
        "ica_tapis.limiter.wait.time",
        "counter",
        "s",
        "Total time attempts waited for an in-flight slot and a token (its rate: the share of "
        "time requests spend held back)",
        (ATTR.API, ATTR.SERVER_ADDRESS),
    )
    CHUNKS: Final = MetricDef(
        "ica_tapis.orchestrator.chunks",
        "counter",
        "{chunk}",
        "Orchestrator chunks by state reached (submitted, resumed, done, failed)",
        (ATTR.KIND, ATTR.CHUNK_STATE),
    )
    ITEMS: Final = MetricDef(
        "ica_tapis.orchestrator.items",
        "counter",
        "{item}",
        "Orchestrator items by final status (a transfer run's items are its Tapis tasks)",
        (ATTR.KIND, ATTR.ITEM_STATUS),
    )

    def all(self) -> tuple[MetricDef, ...]:
        """Every instrument, in README order."""
        return tuple(v for k, v in vars(type(self)).items() if isinstance(v, MetricDef))


METRICS: Final = _Metrics()

# operationId -> the method a user calls, so a span reads like the code that made it.
_OPERATIONS: Final[dict[str, str]] = {
    "createProjectDataLinkingBatch": "data_linking_batches.create",
    "getProjectDataLinkingBatch": "data_linking_batches.get",
    "getProjectDataLinkingBatchItem": "data_linking_batches.get_item",
    "getProjectDataLinkingBatchItems": "data_linking_batches.list_items",
    "createProjectDataUpdateBatch": "data_update_batches.create",
    "getProjectDataUpdateBatch": "data_update_batches.get",
    "getProjectDataUpdateBatchItem": "data_update_batches.get_item",
    "getProjectDataUpdateBatchItems": "data_update_batches.list_items",
    "createAnalysisCreationBatch": "analysis_creation_batches.create",
    "getAnalysisCreationBatch": "analysis_creation_batches.get",
    "getAnalysisCreationBatchItem": "analysis_creation_batches.get_item",
    "getAnalysisCreationBatchItems": "analysis_creation_batches.list_items",
    "getDataTransfers": "data_transfers.list",
    "getDataTransfer": "data_transfers.get",
    "abortDataTransfer": "data_transfers.abort",
    "createJwtToken": "tokens.create",
    "refreshJwtToken": "tokens.refresh",
    "createTransferTask": "transfers.create",
    "getTransferTask": "transfers.get",
    "getTransferTaskDetails": "transfers.details",
    "cancelTransferTask": "transfers.cancel",
    "getRecentTransferTasks": "transfers.list_recent",
}


def span_name(api: str, operation: str, method: str) -> str:
    """``ica.data_linking_batches.create`` for a known operation; ``ica.<operationId>`` or
    ``ica.<METHOD>`` otherwise (never the URL, whose ids would make names unbounded)."""
    known = _OPERATIONS.get(operation)
    if known is not None:
        return f"{api}.{known}"
    return f"{api}.{operation or method}"
