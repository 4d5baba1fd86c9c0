"""The batch orchestrator: exactly-once bulk linking, updates, analyses and Tapis transfers."""

from ._journal_memory import MemoryJournal, NullJournal
from ._journal_postgres import PostgresJournal
from ._journal_protocol import (
    ChunkRecord,
    Claim,
    Journal,
    JournalMismatchError,
    Lease,
    LeaseLostError,
    RunRecord,
)
from ._journal_sqlite import SqliteJournal
from ._plan import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, AnalysisRequest, chunk_key
from ._postgres_store import JournalUnavailableError
from ._report import BatchReport, ItemOutcome, Progress, ProgressCallback
from ._runner import BatchOrchestrator
from ._transfers import TransferOrchestrator, TransferOutcome, TransferReport, TransferRequest
from ._verify import Discrepancy, VerifyReport, verify_run

__all__ = (
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "AnalysisRequest",
    "BatchOrchestrator",
    "BatchReport",
    "ChunkRecord",
    "Claim",
    "Discrepancy",
    "ItemOutcome",
    "Journal",
    "JournalMismatchError",
    "JournalUnavailableError",
    "Lease",
    "LeaseLostError",
    "MemoryJournal",
    "NullJournal",
    "PostgresJournal",
    "Progress",
    "ProgressCallback",
    "RunRecord",
    "SqliteJournal",
    "TransferOrchestrator",
    "TransferOutcome",
    "TransferReport",
    "TransferRequest",
    "VerifyReport",
    "chunk_key",
    "verify_run",
)
