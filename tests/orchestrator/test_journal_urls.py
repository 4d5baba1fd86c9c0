"""Journal URLs: a mistyped PostgreSQL URL is refused (never a SQLite file named after it),
credentials never shown, and a database that cannot be used fails fast with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async._redact import redact_url
from ica_tapis_async.orchestrator._journal_open import is_database_url, open_journal


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://postgres:S3cr#tPw@127.0.0.1:5/db",
            "postgresql://postgres:***@127.0.0.1:5/db",
        ),
        ("postgresql://u:a?b@h/db", "postgresql://u:***@h/db"),
        ("postgresql:/postgres:Pl4in@127.0.0.1:1/db", "postgresql:/postgres:***@127.0.0.1:1/db"),
        ("redis://:secret@host:6379/0", "redis://***@host:6379/0"),
        ("https://token@host/x", "https://***@host/x"),
        ("https://host/x?a=1&password=s3&b=2", "https://host/x?a=1&password=***&b=2"),
        ("host=db password='se cret' user=u", "host=db password=*** user=u"),
        ("http://host/path?q=a@b", "http://host/path?q=a@b"),
        ("/var/lib/journal.db", "/var/lib/journal.db"),
    ],
)
def test_redact_url_reads_user_info_as_libpq_does(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "spec", ["postgresql:/u:Pl4in@db/x", "PostgreSQL://u:Pl4in@db/x", "postgres:u:Pl4in@db"]
)
def test_a_mistyped_postgresql_url_is_refused_without_its_password(
    spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ita.RequestValidationError) as caught:
        open_journal(spec)
    assert caught.value.field == "journal"
    assert str(caught.value).endswith(
        "is not a PostgreSQL URL: write postgresql://user:password@host:port/database"
    )
    assert "Pl4in" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no SQLite file named after the URL


def test_paths_and_urls_are_told_apart() -> None:
    assert is_database_url("postgresql://db/x")
    assert is_database_url("postgres://db/x")
    assert not is_database_url("journal.db")
    assert not is_database_url(Path("postgresql.db"))
