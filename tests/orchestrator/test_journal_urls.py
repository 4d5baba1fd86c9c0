"""Journal URLs: a mistyped PostgreSQL URL is refused (never a SQLite file named after it),
credentials never shown, and a database that cannot be used fails fast with its reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async._redact import redact_url
from ica_tapis_async.orchestrator._journal_open import is_database_url, open_journal


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres:S3cr#tPw@127.0.0.1:5/db", "postgresql://***@127.0.0.1:5/db"),
        ("postgresql://u:a?b@h/db", "postgresql://***@h/db"),
        ("postgresql:/postgres:Pl4in@127.0.0.1:1/db", "postgresql:/***@127.0.0.1:1/db"),
        ("redis://:secret@host:6379/0", "redis://***@host:6379/0"),
        # The whole user info, whatever the password holds (the engines' rules differ).
        ("postgresql://u:p@ss/w#r?d%@db:5/x", "postgresql://***@db:5/x"),
        ("redis://us@r:p@ss/w#r?d%@cache:6379/0", "redis://***@cache:6379/0"),
        ("rediss://token@cache/0", "rediss://***@cache/0"),
        ("unix://:p/w@/run/redis.sock?db=1", "unix://***@/run/redis.sock?db=1"),
        ("postgres:u:Pl4in@db", "postgres:***@db"),
        (
            "postgresql://db/x?password=p@ss&sslmode=off",
            "postgresql://db/x?password=***&sslmode=off",
        ),
        ("redis://cache/0?password=p@ss/w", "redis://cache/0?password=***"),
        ("https://user:pw@host/x", "https://user:***@host/x"),
        ("https://token@host/x", "https://***@host/x"),
        ("https://host/x?a=1&password=s3&b=2", "https://host/x?a=1&password=***&b=2"),
        ("host=db password='se cret' user=u", "host=db password=*** user=u"),
        ("http://host/path?q=a@b", "http://host/path?q=a@b"),
        ("/var/lib/journal.db", "/var/lib/journal.db"),
    ],
)
def test_redact_url_hides_the_whole_user_info_of_engine_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://u:p@ss@db/x", "more than one '@'"),
        ("postgresql://u:pa/ss@db/x", "holds a '/'"),
        ("redis://:pa/ss@cache:6379/0", "'/', '?' or '#'"),
        ("redis://:pa#ss@cache:6379/0", "'/', '?' or '#'"),
        ("redis://:pa?ss@cache:6379/0", "'/', '?' or '#'"),
    ],
)
def test_a_password_the_engine_would_cut_short_is_refused(url: str, why: str) -> None:
    """libpq ends user info at its first '@' or '/', redis-py at '/', '?' or '#': such a URL
    would connect elsewhere, and the server's error could quote a piece of the password."""
    errors: list[BaseException] = []
    if url.startswith("postgres"):
        for make in (open_journal, ita.PostgresJournal):
            with pytest.raises(ValueError, match=re.escape(why)) as caught:
                make(url)
            errors.append(caught.value)
        assert isinstance(errors[0], ita.RequestValidationError)
        assert errors[0].field == "journal"
    else:
        with pytest.raises(ValueError, match=re.escape(why)) as caught:
            ita.RedisRateLimiter(url, "n")
        errors.append(caught.value)
    for error in errors:
        message = str(error)
        assert "percent-encode it (%40 for @, %2F for /, %3F for ?, %23 for #" in message
        assert "***@" in message
        assert "ss" not in message.replace("holds", "")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p%40ss%2Fw#r?d@db/x",
        "postgresql://db/x?application_name=a",
        "redis://:p@ss@cache:6379/0",  # Python's URL rules take the last '@' of the host part
        "redis://:p%2Fss@cache:6379/0",
        "unix://:pw@/run/redis.sock?db=1",
        "redis://cache:6379/0?password=p@ss/w",
        "postgresql://u@db/x?password=p@ss/w",
    ],
)
def test_urls_the_engines_read_as_meant_are_kept(url: str) -> None:
    if url.startswith("postgres"):
        assert is_database_url(url)
    else:
        ita.RedisRateLimiter(url, "n")


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
