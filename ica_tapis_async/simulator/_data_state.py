"""The simulated ICA data store: which data exist, their tags and dates, links per project.

Data are not created explicitly: an id of the form ``fil.<alnum>`` / ``fol.<alnum>`` exists unless
it contains the configured unknown marker. Only what changes (tags, archive/delete dates, links)
is stored, so millions of ids cost nothing until they are touched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import attrs

from ._config import SimulatorConfig

__all__ = ("MISSING_PIPELINE_PREFIX", "DataKind", "DataRecord", "DataStore", "unit_hash")

_DATA_ID = re.compile(r"^(fil|fol)\.[A-Za-z0-9]+$")


MISSING_PIPELINE_PREFIX = "00000000-"


def unit_hash(seed: int, text: str) -> float:
    """A deterministic number in [0, 1) for ``text`` (the same for a given seed)."""
    digest = hashlib.blake2b(f"{seed}:{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class DataKind(Enum):
    """What a data id designates."""

    FILE = "FILE"
    FOLDER = "FOLDER"
    MALFORMED = "MALFORMED"
    UNKNOWN = "UNKNOWN"


@attrs.define
class DataRecord:
    """The mutable state of one data object (created on its first update)."""

    user_tags: list[str] = attrs.Factory(list)
    technical_tags: list[str] = attrs.Factory(list)
    will_be_archived_at: str | None = None
    will_be_deleted_at: str | None = None


def _apply_tags(tags: list[str], update: Mapping[str, Any] | None) -> None:
    if not update:
        return
    for tag in update.get("addTags") or ():
        if tag not in tags:
            tags.append(tag)
    removed = set(update.get("removeTags") or ())
    tags[:] = [t for t in tags if t not in removed]


class DataStore:
    """Existence rules, per-data records and per-project links."""

    def __init__(self, config: Callable[[], SimulatorConfig]) -> None:
        self._config = config
        self._records: dict[str, DataRecord] = {}
        self._links: dict[str, set[str]] = {}

    def kind(self, data_id: str) -> DataKind:
        """Classify ``data_id`` by the id rules and the unknown marker."""
        if not _DATA_ID.match(data_id):
            return DataKind.MALFORMED
        marker = self._config().unknown_marker
        if marker and marker in data_id:
            return DataKind.UNKNOWN
        return DataKind.FOLDER if data_id.startswith("fol.") else DataKind.FILE

    def is_partial(self, data_id: str) -> bool:
        """Whether folder ``data_id`` has content that is partly unavailable."""
        config = self._config()
        if config.partial_marker and config.partial_marker in data_id:
            return True
        return config.partial_folder_rate > 0 and (
            unit_hash(config.seed, "partial:" + data_id) < config.partial_folder_rate
        )

    def pipeline_known(self, pipeline_id: str) -> bool:
        """Whether an analysis can be created with ``pipeline_id``."""
        config = self._config()
        if config.known_pipelines is not None:
            return pipeline_id in config.known_pipelines
        if pipeline_id.startswith(MISSING_PIPELINE_PREFIX):
            return False  # a UUID cannot hold the marker, so unknown UUIDs have their own sign
        return not (config.unknown_marker and config.unknown_marker in pipeline_id)

    def project_known(self, project_id: str) -> bool:
        """Whether ``project_id`` exists."""
        known = self._config().known_projects
        return known is None or project_id in known

    # --- links ---------------------------------------------------------------------------------
    def link(self, project_id: str, data_id: str) -> bool:
        """Link ``data_id`` to the project; False when it was already linked."""
        linked = self._links.setdefault(project_id, set())
        if data_id in linked:
            return False
        linked.add(data_id)
        return True

    def linked_set(self, project_id: str) -> set[str]:
        """The live set of ids linked to ``project_id`` (the batch settler adds to it)."""
        return self._links.setdefault(project_id, set())

    def is_linked(self, project_id: str, data_id: str) -> bool:
        """Whether ``data_id`` is linked to ``project_id``."""
        return data_id in self._links.get(project_id, ())

    def links(self, project_id: str) -> frozenset[str]:
        """The data ids linked to ``project_id``."""
        return frozenset(self._links.get(project_id, ()))

    # --- records -------------------------------------------------------------------------------
    def record(self, data_id: str) -> DataRecord | None:
        """The changed state of ``data_id``, or None when it was never updated."""
        return self._records.get(data_id)

    def apply_update(self, data_id: str, group: Mapping[str, Any]) -> None:
        """Apply one DataUpdateGroup's changes (tags, dates) to ``data_id``."""
        record = self._records.setdefault(data_id, DataRecord())
        _apply_tags(record.user_tags, group.get("userTags"))
        _apply_tags(record.technical_tags, group.get("technicalTags"))
        if group.get("clearWillBeArchivedAt"):
            record.will_be_archived_at = None
        elif group.get("willBeArchivedAt"):
            record.will_be_archived_at = group["willBeArchivedAt"]
        if group.get("clearWillBeDeletedAt"):
            record.will_be_deleted_at = None
        elif group.get("willBeDeletedAt"):
            record.will_be_deleted_at = group["willBeDeletedAt"]
