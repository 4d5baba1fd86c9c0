"""Pins on the orchestrator options checked before any work: the journal argument and the
positive durations (lease, key lifetime), with the whole messages users read."""

from __future__ import annotations

from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import MemoryJournal
from ica_tapis_async.orchestrator._plan import check_journal_spec, check_positive


@pytest.mark.parametrize(
    "journal",
    [None, "run.sqlite", Path("run.sqlite"), "postgresql://db/runs", MemoryJournal()],
    ids=["none", "str", "path", "url", "journal"],
)
def test_journal_argument_accepts_what_it_documents(journal: object) -> None:
    """``None``, a path (str or Path), a database URL or a Journal pass the check."""
    check_journal_spec(journal)


def test_journal_argument_of_another_type_is_refused_with_the_whole_message() -> None:
    """Anything else names the field and the type given."""
    with pytest.raises(ita.RequestValidationError) as info:
        check_journal_spec(42)
    assert str(info.value) == "journal: must be a path, a postgresql:// URL or a Journal, not int"
    assert info.value.field == "journal"


async def test_the_orchestrator_refuses_a_bad_journal_before_opening_anything() -> None:
    """The check runs in the constructor: a wrong ``journal=`` fails at once, by name."""
    async with ita.IcaClient("https://ica.test", api_key="key-1") as ica:
        with pytest.raises(ita.RequestValidationError) as info:
            ita.orchestrator.BatchOrchestrator(ica, "proj", journal=3.5)  # type: ignore[arg-type]
    assert info.value.field == "journal"


@pytest.mark.parametrize("value", [0.5, 1, 30.0])
def test_a_positive_duration_is_kept_as_a_float(value: float) -> None:
    """Fractions of a second are positive too; the value comes back as a float."""
    kept = check_positive("lease_ttl", value)
    assert (kept, type(kept)) == (value, float)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "lease_ttl: must be a positive number, got 0"),
        (-1.5, "lease_ttl: must be a positive number, got -1.5"),
        (True, "lease_ttl: must be a positive number, got True"),
        ("30", "lease_ttl: must be a positive number, got '30'"),
    ],
)
def test_a_duration_that_is_not_a_positive_number_is_refused(value: object, message: str) -> None:
    """Zero, negatives, booleans and strings are refused with the whole message."""
    with pytest.raises(ita.RequestValidationError) as info:
        check_positive("lease_ttl", value)
    assert str(info.value) == message
    assert info.value.field == "lease_ttl"
