"""Typed endpoint wrappers: one class per API area, no retry or concurrency logic of their own."""

from .ica import (
    AnalysisCreationBatches,
    DataLinkingBatches,
    DataTransfers,
    DataUpdateBatches,
    Tokens,
)
from .tapis import Transfers

__all__ = (
    "AnalysisCreationBatches",
    "DataLinkingBatches",
    "DataTransfers",
    "DataUpdateBatches",
    "Tokens",
    "Transfers",
)
