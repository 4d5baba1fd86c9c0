"""Hostile ~/.icav2/config.yaml files: what YAML means is what is used, never a value shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from ica_tapis_async.cli._config import ConfigError, settings_from
from ica_tapis_async.cli._parser import build_parser

KEY = "icav2-key-5f9a7c3e1b"


def _settings(
    tmp_path: Path, config: bytes, *argv: str
) -> tuple[str | None, str | None, str | None]:
    home = tmp_path / "home"
    (home / ".icav2").mkdir(parents=True, exist_ok=True)
    (home / ".icav2" / "config.yaml").write_bytes(config)
    args = build_parser().parse_args(["link", "-", "--project", "P", *argv])
    settings = settings_from(args, {"HOME": str(home)})
    return settings.ica_base_url, settings.api_key, settings.access_token


@pytest.mark.parametrize(
    "line",
    [
        f'x-api-key: "{KEY}"  # the lab key',
        f"x-api-key: '{KEY}' # the lab key",
        f"x-api-key: {KEY} # the lab key",
        f"x-api-key: {KEY}\t# the lab key",
    ],
)
def test_a_quoted_value_before_a_comment_loses_its_quotes(tmp_path: Path, line: str) -> None:
    """YAML: the quotes and the comment are not part of the value (they used to be sent)."""
    config = f"server-url: 'ica.illumina.com' # EU\n{line}\n".encode()
    assert _settings(tmp_path, config) == ("https://ica.illumina.com/ica/rest", KEY, None)


def test_quotes_inside_quoted_values(tmp_path: Path) -> None:
    """'' in single quotes and \\" in double quotes are one quote character."""
    config = b"server-url: ica.illumina.com\nx-api-key: 'it''s'\naccess-token: \"a\\\"b\"\n"
    assert _settings(tmp_path, config) == ("https://ica.illumina.com/ica/rest", "it's", 'a"b')


def test_a_byte_order_mark_does_not_hide_the_first_key(tmp_path: Path) -> None:
    """A file saved "UTF-8 with BOM" (Windows editors): its first key is still read."""
    config = f"server-url: ica.illumina.com\r\nx-api-key: {KEY}\r\n".encode("utf-8-sig")
    assert _settings(tmp_path, config) == ("https://ica.illumina.com/ica/rest", KEY, None)


def test_a_key_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    """--api-key-file: a BOM is not part of the key (it would be sent, and refused)."""
    key_file = tmp_path / "key.txt"
    key_file.write_bytes(f"{KEY}\r\n".encode("utf-8-sig"))
    config = b"server-url: ica.illumina.com\n"
    assert _settings(tmp_path, config, "--api-key-file", str(key_file))[1] == KEY


@pytest.mark.parametrize("null", ["null", "~", "Null", "NULL", "''", '""', ""])
def test_a_null_token_is_no_token(tmp_path: Path, null: str) -> None:
    """``access-token: null`` means none: "null" must not travel beside the key as a token."""
    config = f"server-url: ica.illumina.com\nx-api-key: {KEY}\naccess-token: {null}\n".encode()
    assert _settings(tmp_path, config) == ("https://ica.illumina.com/ica/rest", KEY, None)


def test_nested_settings_of_keys_we_do_not_use_are_ignored(tmp_path: Path) -> None:
    """The docstring's promise, "keys we do not use are ignored", also for a nested one."""
    config = (
        f"server-url: ica.illumina.com\nproxy:\n  https: http://proxy:3128\n  no-proxy:\n"
        f"    - localhost\nprojects:\n- one\n- two\nx-api-key: {KEY}\n"
    ).encode()
    assert _settings(tmp_path, config) == ("https://ica.illumina.com/ica/rest", KEY, None)


@pytest.mark.parametrize(
    ("config", "line", "key"),
    [
        (f"server-url: h\nx-api-key: [{KEY}]\n", 2, "x-api-key"),
        (f"server-url: h\nx-api-key: {{k: {KEY}}}\n", 2, "x-api-key"),
        (f"server-url: h\nx-api-key:\n  {KEY}\n", 2, "x-api-key"),
        (f"server-url: h\nx-api-key: |\n  {KEY}\n", 2, "x-api-key"),
        (f"x-api-key: {KEY}\nserver-url:\n  - a\n  - b\n", 2, "server-url"),
        (f'server-url: h\nx-api-key: "{KEY}\n', 2, "x-api-key"),
        (f'server-url: h\nx-api-key: "{KEY}" trailing\n', 2, "x-api-key"),
    ],
)
def test_a_setting_that_is_not_one_text_value_is_refused(
    tmp_path: Path, config: str, line: int, key: str
) -> None:
    """A list, a mapping, a block or a broken quote where a setting is: exit 2 naming the
    file, line and key (it used to be sent as text, brackets and all), never the value."""
    with pytest.raises(ConfigError) as raised:
        _settings(tmp_path, config.encode())
    message = str(raised.value)
    assert f"config.yaml, line {line}: {key}" in message
    assert KEY not in message


def test_the_simulator_does_not_read_the_icav2_config(tmp_path: Path) -> None:
    """--simulator needs no server or credentials: a config file we cannot use (here, a list
    of servers, and a line that is not YAML) must not stop it (it was exit 2, naming it)."""
    home = tmp_path / "home"
    (home / ".icav2").mkdir(parents=True)
    (home / ".icav2" / "config.yaml").write_text(
        "server-url: [eu.ica.example, ica.illumina.com]\nnot yaml\n", encoding="utf-8"
    )
    args = build_parser().parse_args(["link", "-", "--simulator"])
    settings = settings_from(args, {"HOME": str(home)})
    assert settings.simulator
    assert settings.api_key is None


def test_a_tapis_only_command_does_not_need_the_icav2_config(tmp_path: Path) -> None:
    """transfers create talks to Tapis only: an icav2 (ICA) config we cannot use must not
    stop it; an ICA command still names the file."""
    home = tmp_path / "home"
    (home / ".icav2").mkdir(parents=True)
    (home / ".icav2" / "config.yaml").write_text("not yaml\n", encoding="utf-8")
    env = {"HOME": str(home), "TAPIS_BASE_URL": "https://tacc.example", "TAPIS_TOKEN": "t"}
    args = build_parser().parse_args(["transfers", "create", "pairs.txt"])
    settings = settings_from(args, env, need_ica=False, need_tapis=True)
    assert settings.tapis_base_url == "https://tacc.example"
    link = build_parser().parse_args(["link", "-", "--project", "P"])
    with pytest.raises(ConfigError, match=r"config\.yaml, line 1: expected 'key: value'"):
        settings_from(link, env)


@pytest.mark.parametrize("flag", ["--base-url", "--api-key", "--access-token", "--api-key-file"])
def test_an_empty_flag_is_refused_not_replaced_by_the_icav2_config(
    tmp_path: Path, flag: str
) -> None:
    """``--api-key "$STAGING_KEY"`` with the variable unset: the empty flag used to be skipped,
    and the server or key of ~/.icav2/config.yaml (production's) used in its place."""
    home = tmp_path / "home"
    (home / ".icav2").mkdir(parents=True)
    (home / ".icav2" / "config.yaml").write_text(
        f"server-url: ica.illumina.com\nx-api-key: {KEY}\n", encoding="utf-8"
    )
    args = build_parser().parse_args(["link", "-", "--project", "P", f"{flag}="])
    with pytest.raises(ConfigError, match=f"^{flag}: empty"):
        settings_from(args, {"HOME": str(home)})
