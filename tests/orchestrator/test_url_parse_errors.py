"""URLs the engines' own parsers refuse: the refusal is a clear, typed error at once that never
quotes the password (Python's URL parser and redis-py quote the whole host part, user info and
all), and the command line prints one line for it rather than a traceback."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli import main

pytest.importorskip("redis")

# Characters that Unicode NFKC normalization turns into "@", "/" or a colon-free "a/c": Python's
# urlsplit refuses such a host part and quotes it whole in its error.
NFKC_PASSWORDS = ("pa\u2100ss", "sec\uff20ret", "sec\uff0fret")


@pytest.mark.parametrize("password", NFKC_PASSWORDS)
def test_a_redis_url_python_refuses_never_shows_the_password(password: str) -> None:
    url = f"redis://:{password}@127.0.0.1:6379/0"
    with pytest.raises(ValueError, match="not a valid Redis URL") as caught:
        ita.RedisRateLimiter(url, "nfkc")
    assert password not in str(caught.value)
    assert "redis://***@127.0.0.1:6379/0" in str(caught.value)


def test_a_short_user_name_is_hidden_without_mangling_the_reason() -> None:
    with pytest.raises(ValueError) as caught:
        ita.RedisRateLimiter("redis://u@h\u2100x:6379/0", "nfkc")
    assert str(caught.value).endswith(
        "netloc '***@h\u2100x:6379' contains invalid characters under NFKC normalization"
    )


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("bogus_opt=1", "bogus_opt"),
        ("ssl_cert_reqs=bogus", "bogus"),
    ],
)
def test_a_redis_url_option_redis_py_refuses_fails_at_construction(query: str, why: str) -> None:
    """redis-py checks a URL's options only when it first connects: a TypeError (an unknown
    option) or a RedisError (a bad TLS flag) would escape the first request, untyped."""
    scheme = "rediss" if query.startswith("ssl") else "redis"
    url = f"{scheme}://:SeCrEt@127.0.0.1:6379/0?{query}"
    with pytest.raises(ValueError, match="not a valid Redis URL") as caught:
        ita.RedisRateLimiter(url, "options")
    assert why in str(caught.value)
    assert "SeCrEt" not in str(caught.value)


def _cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


def test_the_command_line_refuses_such_redis_urls_in_one_line(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("a\nb\n", encoding="utf-8")
    for shared in (
        f"redis://:{NFKC_PASSWORDS[0]}@127.0.0.1:1/0",
        "redis://:SeCrEt@127.0.0.1:1/0?bogus_opt=1",
    ):
        code, out = _cli([
            "link", str(ids), "--shared-limit", shared, "--base-url", "http://127.0.0.1:1",
            "--api-key", "k", "--project", "p",
        ])  # fmt: skip
        assert code == 2, out
        assert out.strip().startswith("error: --shared-limit redis://***@127.0.0.1:1/0"), out
        assert NFKC_PASSWORDS[0] not in out
        assert "SeCrEt" not in out


@pytest.mark.parametrize("command", ["status", "link"])
@pytest.mark.parametrize("password", ["100%", "a%zzb"])
def test_a_postgresql_password_with_a_bare_percent_is_one_clear_line(
    command: str, password: str, tmp_path: Path
) -> None:
    """libpq refuses a '%' that does not start a %XX escape: the command says to encode it,
    instead of crashing with a ValueError traceback."""
    pytest.importorskip("psycopg")
    ids = tmp_path / "ids.txt"
    ids.write_text("a\nb\n", encoding="utf-8")
    journal = f"postgresql://u:{password}@127.0.0.1:1/db"
    argv = (
        ["status", "--journal", journal, "--run-id", "x"]
        if command == "status"
        else [
            "link", str(ids), "--journal", journal, "--base-url", "http://127.0.0.1:1",
            "--api-key", "k", "--project", "p",
        ]
    )  # fmt: skip
    code, out = _cli(argv)
    assert code == 2, out
    assert out.strip().startswith("error: --journal: 'postgresql://***@127.0.0.1:1/db'"), out
    assert "%25" in out
    assert password not in out


@pytest.mark.parametrize(
    "url",
    [
        "redis://:xq@secrethost/w@127.0.0.1:6379/0",
        "redis://:xq@secrethost?w@127.0.0.1:6379/0",
        "redis://:xq@secrethost#w@127.0.0.1:6379/0",
        "rediss://:xq@secrethost/w/z@127.0.0.1:6379/0",
        "redis://:xq@secrethost?db=0@127.0.0.1:6379/0",
        "postgresql://u:xq@secrethost/w@127.0.0.1:5432/db",
    ],
)
def test_a_password_with_an_at_then_a_slash_is_refused_before_any_lookup(url: str) -> None:
    """Read by the engine's rules, the part of such a password between its "@" and its "/"
    (or "?", "#") is the host: the client would resolve it (telling the DNS) and the error
    would name it. Refused, naming no part of it."""
    pytest.importorskip("psycopg")
    with pytest.raises(ValueError, match="percent-encode") as caught:
        if url.startswith("postgres"):
            ita.PostgresJournal(url)
        else:
            ita.RedisRateLimiter(url, "at-slash")
    assert "secrethost" not in str(caught.value)
    assert "xq" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:pw@127.0.0.1:6379/0?client_name=me@example",
        "redis://127.0.0.1:6379/0?password=p@ss/w",
        "unix://:pw@/run/redis@6379.sock?db=0",
        "redis://127.0.0.1:6379/0?client_name=me@example",
        "postgresql://u:pw@127.0.0.1:5432/db?application_name=me@example",
    ],
)
def test_an_at_in_a_query_value_is_still_accepted(url: str) -> None:
    pytest.importorskip("psycopg")
    if url.startswith("postgres"):
        ita.PostgresJournal(url)
    else:
        ita.RedisRateLimiter(url, "at-in-query")
