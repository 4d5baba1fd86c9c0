"""Update specs: an id list (the flags give the changes) or CSV/JSON rows with change columns."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from ...models import DataUpdateGroup, TagUpdate
from ._errors import InputError
from ._ids import ids_of
from ._source import kind_of, read_text, rows_of
from ._values import check_data_id, flag_value, strings_value, text_value, when_value

__all__ = ("UPDATE_COLUMNS", "UpdateChanges", "read_update_groups")

#: Columns of an update spec besides ``dataId`` (tags separated by ';', dates ISO 8601 UTC).
UPDATE_COLUMNS: Final = (
    "addTags",
    "removeTags",
    "addTechnicalTags",
    "removeTechnicalTags",
    "willBeArchivedAt",
    "willBeDeletedAt",
    "clearWillBeArchivedAt",
    "clearWillBeDeletedAt",
)


@attrs.frozen
class UpdateChanges:
    """One set of changes, applied to every data id that shares it."""

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    add_technical_tags: tuple[str, ...] = ()
    remove_technical_tags: tuple[str, ...] = ()
    archive_at: datetime | None = None
    delete_at: datetime | None = None
    clear_archive: bool = False
    clear_delete: bool = False

    @property
    def empty(self) -> bool:
        """No change at all."""
        return self == UpdateChanges()

    @property
    def sets_dates(self) -> bool:
        """Whether an archive or delete time is set (not allowed on folders)."""
        return self.archive_at is not None or self.delete_at is not None

    def merged(self, other: UpdateChanges) -> UpdateChanges:
        """These changes plus ``other``'s (``other``'s dates win when both set one)."""

        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys((*a, *b)))

        return UpdateChanges(
            union(self.add_tags, other.add_tags),
            union(self.remove_tags, other.remove_tags),
            union(self.add_technical_tags, other.add_technical_tags),
            union(self.remove_technical_tags, other.remove_technical_tags),
            other.archive_at or self.archive_at,
            other.delete_at or self.delete_at,
            self.clear_archive or other.clear_archive,
            self.clear_delete or other.clear_delete,
        )

    def group(self, data_ids: list[str]) -> DataUpdateGroup:
        """The API's update group for ``data_ids``."""
        user = (
            TagUpdate(
                add_tags=list(self.add_tags) or None, remove_tags=list(self.remove_tags) or None
            )
            if self.add_tags or self.remove_tags
            else None
        )
        technical = (
            TagUpdate(
                add_tags=list(self.add_technical_tags) or None,
                remove_tags=list(self.remove_technical_tags) or None,
            )
            if self.add_technical_tags or self.remove_technical_tags
            else None
        )
        return DataUpdateGroup(
            data_ids=data_ids,
            user_tags=user,
            technical_tags=technical,
            will_be_archived_at=self.archive_at,
            will_be_deleted_at=self.delete_at,
            clear_will_be_archived_at=True if self.clear_archive else None,
            clear_will_be_deleted_at=True if self.clear_delete else None,
        )


def _check_changes(changes: UpdateChanges, name: str, line: int | None, field: str) -> None:
    if changes.archive_at is not None and changes.clear_archive:
        raise InputError(name, line, field, "sets and clears the archive time at once")
    if changes.delete_at is not None and changes.clear_delete:
        raise InputError(name, line, field, "sets and clears the delete time at once")


def read_update_groups(
    path: str, changes: UpdateChanges, *, fmt: str | None = None
) -> tuple[list[DataUpdateGroup], int]:
    """The update groups of a file, and how many data ids they cover.

    ``changes`` (from the flags) apply to every data id; CSV/JSON rows add their own. Rows with
    the same changes share one group.

    Raises:
        InputError: an unreadable file, a malformed row, or nothing to change.
    """
    name, text = read_text(path)
    kind = kind_of(path, text, fmt)
    per_change: dict[UpdateChanges, list[str]] = {}
    count = 0
    if kind == "text":
        _check_changes(changes, "command line", None, "--archive-at/--delete-at")
        for data_id in ids_of(name, text):
            per_change.setdefault(changes, []).append(data_id)
            count += 1
        if changes.empty:
            raise InputError(
                name,
                None,
                None,
                "no changes: give tag or date flags (see --help), "
                "or use a CSV/JSON file with change columns",
            )
    else:
        for line, row in rows_of(name, text, kind):
            data_id = check_data_id(
                text_value(row.get("dataId"), name, line, "dataId"), name, line, "dataId"
            )
            unknown = [k for k in row if k != "dataId" and k not in UPDATE_COLUMNS]
            if unknown:
                raise InputError(
                    name,
                    line,
                    unknown[0],
                    f"unknown column; expected dataId and {', '.join(UPDATE_COLUMNS)}",
                )
            own = UpdateChanges(
                tuple(strings_value(row.get("addTags"), name, line, "addTags")),
                tuple(strings_value(row.get("removeTags"), name, line, "removeTags")),
                tuple(strings_value(row.get("addTechnicalTags"), name, line, "addTechnicalTags")),
                tuple(
                    strings_value(row.get("removeTechnicalTags"), name, line, "removeTechnicalTags")
                ),
                when_value(row.get("willBeArchivedAt"), name, line, "willBeArchivedAt"),
                when_value(row.get("willBeDeletedAt"), name, line, "willBeDeletedAt"),
                flag_value(row.get("clearWillBeArchivedAt"), name, line, "clearWillBeArchivedAt"),
                flag_value(row.get("clearWillBeDeletedAt"), name, line, "clearWillBeDeletedAt"),
            )
            merged = changes.merged(own)
            if merged.empty:
                raise InputError(name, line, None, "no changes for this data id")
            _check_changes(merged, name, line, "willBeArchivedAt/willBeDeletedAt")
            if merged.sets_dates and data_id.startswith("fol."):
                field = "willBeArchivedAt" if merged.archive_at else "willBeDeletedAt"
                raise InputError(name, line, field, "archive/delete times cannot be set on folders")
            per_change.setdefault(merged, []).append(data_id)
            count += 1
        if not count:
            raise InputError(name, None, None, "no rows found")
    return [change.group(ids) for change, ids in per_change.items()], count
