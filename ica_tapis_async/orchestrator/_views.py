"""The slim item views the orchestrator reads: those of the batch resources."""

from __future__ import annotations

from ..resources.ica._summaries import BatchItemSummary as ItemView
from ..resources.ica._summaries import BatchItemSummaryPage as ItemPageView

__all__ = ("ItemPageView", "ItemView")
