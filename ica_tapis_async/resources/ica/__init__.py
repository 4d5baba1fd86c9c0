"""ICA resources."""

from .analysis_creation_batches import AnalysisCreationBatches
from .data_linking_batches import DataLinkingBatches
from .data_transfers import DataTransfers
from .data_update_batches import DataUpdateBatches
from .tokens import Tokens

__all__ = (
    "AnalysisCreationBatches",
    "DataLinkingBatches",
    "DataTransfers",
    "DataUpdateBatches",
    "Tokens",
)
