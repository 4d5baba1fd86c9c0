"""Settings as icav2 users keep them: flags > ICA_* > ICAV2_* > ~/.icav2/config.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ica_tapis_async.cli._config import ConfigError, setting_sources, settings_from
from ica_tapis_async.cli._icav2 import icav2_base_url, read_icav2_config
from ica_tapis_async.cli._parser import build_parser
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT
from .shell import run

KEY = "icav2-key-5f9a7c3e1b"
TOKEN = "eyJ.icav2-token.sig"


def _home(tmp_path: Path, config: str | None) -> dict[str, str]:
    home = tmp_path / "home"
    (home / ".icav2").mkdir(parents=True, exist_ok=True)
    if config is not None:
        (home / ".icav2" / "config.yaml").write_text(config, encoding="utf-8")
    return {"HOME": str(home)}


def _resolve(argv: list[str], env: dict[str, str]) -> tuple[dict[str, object], dict[str, object]]:
    args = build_parser().parse_args(["link", "-", "--project", "P", *argv])
    settings = settings_from(args, env)
    values: dict[str, object] = {
        "base_url": settings.ica_base_url,
        "api_key": settings.api_key,
        "access_token": settings.access_token,
    }
    return values, {k: settings.sources[k] for k in values}


@pytest.mark.parametrize(
    ("server", "base"),
    [
        ("ica.illumina.com", "https://ica.illumina.com/ica/rest"),
        ("ica.illumina.com/", "https://ica.illumina.com/ica/rest"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/ica/rest"),
        ("http://127.0.0.1:8080/ica/rest", "http://127.0.0.1:8080/ica/rest"),
        ("https://eu.ica.example/ica/rest/", "https://eu.ica.example/ica/rest"),
    ],
)
def test_icav2_server_url(server: str, base: str) -> None:
    """A bare host means https://HOST/ica/rest; a scheme is kept, /ica/rest added if missing."""
    assert icav2_base_url(server) == base


def test_the_config_file_alone_is_enough(tmp_path: Path) -> None:
    """server-url and x-api-key from ~/.icav2/config.yaml, as icav2 writes it."""
    env = _home(
        tmp_path,
        f"# written by icav2\naccess-token: ''\ncolormode: none\noutput-format: table\n"
        f'server-url: ica.illumina.com\nx-api-key: "{KEY}"\n',
    )
    values, sources = _resolve([], env)
    assert values == {
        "base_url": "https://ica.illumina.com/ica/rest",
        "api_key": KEY,
        "access_token": None,
    }
    assert sources == {
        "base_url": "~/.icav2/config.yaml (server-url)",
        "api_key": "~/.icav2/config.yaml (x-api-key)",
        "access_token": None,
    }


def test_each_layer_beats_the_next(tmp_path: Path) -> None:
    """Flags > ICA_* > ICAV2_* > config file, for the server and for the credentials."""
    config = _home(tmp_path, "server-url: config.example\nx-api-key: from-config\n")
    icav2 = {"ICAV2_SERVER_URL": "http://icav2.example:8080", "ICAV2_X_API_KEY": "from-icav2"}
    ours = {"ICA_BASE_URL": "https://ours.example/ica/rest", "ICA_API_KEY": "from-ica-env"}
    assert _resolve([], {**config, **icav2})[0] == {
        "base_url": "http://icav2.example:8080/ica/rest",
        "api_key": "from-icav2",
        "access_token": None,
    }
    assert _resolve([], {**config, **icav2, **ours}) == (
        {
            "base_url": "https://ours.example/ica/rest",
            "api_key": "from-ica-env",
            "access_token": None,
        },
        {"base_url": "ICA_BASE_URL", "api_key": "ICA_API_KEY", "access_token": None},
    )
    flags = ["--base-url", "http://flag.example/ica/rest", "--api-key", "from-flag"]
    assert _resolve(flags, {**config, **icav2, **ours}) == (
        {"base_url": "http://flag.example/ica/rest", "api_key": "from-flag", "access_token": None},
        {"base_url": "--base-url", "api_key": "--api-key", "access_token": None},
    )


def test_credentials_come_from_one_place(tmp_path: Path) -> None:
    """A key in the environment is not sent along with a (maybe stale) token from the file."""
    env = {
        **_home(tmp_path, f"server-url: ica.illumina.com\naccess-token: {TOKEN}\n"),
        "ICAV2_X_API_KEY": KEY,
    }
    values, sources = _resolve([], env)
    assert (values["api_key"], values["access_token"]) == (KEY, None)
    assert sources["access_token"] is None
    only_file = _resolve([], _home(tmp_path, f"server-url: h\naccess-token: {TOKEN}\n"))
    assert only_file[0]["access_token"] == TOKEN
    assert only_file[1]["access_token"] == "~/.icav2/config.yaml (access-token)"


def test_api_key_file(tmp_path: Path) -> None:
    """--api-key-file: the trailing newline (LF or CRLF) is dropped; mistakes are named."""
    env = {"ICA_BASE_URL": "http://h/ica/rest", **_home(tmp_path, None)}
    for text in (KEY + "\n", KEY + "\r\n", KEY):
        path = tmp_path / "key.txt"
        path.write_text(text, encoding="utf-8", newline="")
        values, sources = _resolve(["--api-key-file", str(path)], env)
        assert values["api_key"] == KEY
        assert sources["api_key"] == "--api-key-file"
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    (tmp_path / "two").write_text("a\nb\n", encoding="utf-8")
    cases = {
        str(tmp_path / "missing"): "cannot be read (No such file or directory)",
        str(tmp_path / "empty"): "the file is empty",
        str(tmp_path / "two"): "more than one line",
    }
    for path_text, reason in cases.items():
        with pytest.raises(ConfigError) as raised:
            _resolve(["--api-key-file", path_text], env)
        assert str(raised.value).startswith(f"--api-key-file {path_text}: {reason}")
    with pytest.raises(ConfigError, match="exclude each other"):
        _resolve(["--api-key", "k", "--api-key-file", str(tmp_path / "empty")], env)


def test_a_broken_config_file_is_named(tmp_path: Path) -> None:
    """A line that is not ``key: value``: exit 2 naming the file and line, no value shown."""
    env = _home(tmp_path, f"x-api-key: {KEY}\nthis is not yaml\n")
    path = Path(env["HOME"]) / ".icav2" / "config.yaml"
    assert read_icav2_config(tmp_path / "nothing-here.yaml") == {}
    with pytest.raises(ConfigError) as raised:
        _resolve([], env)
    assert str(raised.value) == f"{path}, line 2: expected 'key: value'"


def test_sources_name_places_never_values(tmp_path: Path) -> None:
    """setting_sources (printed by --dry-run) holds no credential, whatever its origin."""
    env = {
        **_home(tmp_path, f"server-url: ica.illumina.com\nx-api-key: {KEY}\n"),
        "ICAV2_ACCESS_TOKEN": TOKEN,
        "TAPIS_TOKEN": "tapis-secret-value",
    }
    args = build_parser().parse_args(["transfers", "create", "-", "--tapis-url", "http://t"])
    sources = setting_sources(args, env)
    assert sources == {
        "base_url": "~/.icav2/config.yaml (server-url)",
        "api_key": None,
        "access_token": "ICAV2_ACCESS_TOKEN",
        "tapis_base_url": "--tapis-url",
        "tapis_token": "TAPIS_TOKEN",
        "project": None,
    }
    text = json.dumps(sources)
    for secret in (KEY, TOKEN, "tapis-secret-value"):
        assert secret not in text


def test_a_run_configured_only_as_for_icav2(tmp_path: Path) -> None:
    """The console script against a server that accepts one key, set up only icav2's way."""
    with Simulator(api_keys=frozenset({KEY})) as sim:
        env = _home(tmp_path, f'x-api-key: "{KEY}"\n')
        env["ICAV2_SERVER_URL"] = sim.base_url  # http://127.0.0.1:PORT: /ica/rest is added
        ids = tmp_path / "ids.txt"
        ids.write_text("fil.1\nfil.2\n", encoding="utf-8")
        result = run("link", str(ids), "--project", PROJECT, "--json", env=env)
        assert result.code == 0, result.err
        assert json.loads(result.out)["counts"] == {"LINKED": 2}
        wrong = _home(tmp_path / "other", "x-api-key: not-the-key\n")
        refused = run(
            "link", str(ids), "--project", PROJECT, env={**wrong, "ICAV2_SERVER_URL": sim.base_url}
        )
        assert refused.code == 1
        assert "not-the-key" not in refused.out + refused.err


def test_dry_run_names_where_each_setting_came_from(tmp_path: Path) -> None:
    """--dry-run shows the source of each setting (a flag, a variable, the config file), in
    its plan and its JSON, and none of the values."""
    with Simulator() as sim:
        env = _home(tmp_path, f'x-api-key: "{KEY}"\n')
        env["ICAV2_SERVER_URL"] = sim.base_url
        ids = tmp_path / "ids.txt"
        ids.write_text("fil.1\nfil.2\n", encoding="utf-8")
        text = run("link", str(ids), "--project", PROJECT, "--dry-run", env=env)
        assert text.code == 0, text.err
        assert (
            "  settings: server from ICAV2_SERVER_URL, API key from ~/.icav2/config.yaml "
            "(x-api-key), project from --project"
        ) in text.out.splitlines()
        data = run("link", str(ids), "--project", PROJECT, "--dry-run", "--json", env=env)
        assert json.loads(data.out)["settings"] == {
            "base_url": "ICAV2_SERVER_URL",
            "api_key": "~/.icav2/config.yaml (x-api-key)",
            "project": "--project",
        }
        assert KEY not in text.out + text.err + data.out + data.err
        assert sim.stats.requests_by_operation.get("createProjectDataLinkingBatch", 0) == 0
