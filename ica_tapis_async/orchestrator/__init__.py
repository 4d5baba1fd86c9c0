"""The batch orchestrator: exactly-once bulk linking, updates, analyses and Tapis transfers."""

from ._journal import ChunkRecord, Journal, NullJournal, SqliteJournal
from ._plan import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, AnalysisRequest, chunk_key
from ._report import BatchReport, ItemOutcome, Progress, ProgressCallback
from ._runner import BatchOrchestrator
from ._transfers import TransferOrchestrator, TransferOutcome, TransferReport, TransferRequest

__all__ = (
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "AnalysisRequest",
    "BatchOrchestrator",
    "BatchReport",
    "ChunkRecord",
    "ItemOutcome",
    "Journal",
    "NullJournal",
    "Progress",
    "ProgressCallback",
    "SqliteJournal",
    "TransferOrchestrator",
    "TransferOutcome",
    "TransferReport",
    "TransferRequest",
    "chunk_key",
)
