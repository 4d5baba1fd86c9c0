"""The parts of a batch item the orchestrator reads.

An item page of 1,000 V4 linking items is about 2.5 MB, most of it ``createdProjectData``.
Structuring only the fields the report needs makes reading a finished batch several times
cheaper than building the full models.
"""

from __future__ import annotations

import attrs

__all__ = ("ItemPageView", "ItemView")


@attrs.define(frozen=True)
class _RequestView:
    data_id: str | None = None
    user_reference: str | None = None


@attrs.define(frozen=True)
class _ProcessingView:
    status: str
    additional_status_information: str | None = None


@attrs.define(frozen=True)
class _IdView:
    id: str


@attrs.define(frozen=True)
class ItemView:
    """A batch item as the orchestrator sees it (any of the three kinds)."""

    id: str
    request: _RequestView
    processing: _ProcessingView
    created_analysis: _IdView | None = None


@attrs.define(frozen=True)
class ItemPageView:
    """A page of :class:`ItemView`."""

    items: list[ItemView]
    next_page_token: str | None = None
    remaining_records: int | None = None
    total_item_count: int | None = None
