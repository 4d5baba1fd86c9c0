"""Argument parsing and configuration from flags and the environment."""

from __future__ import annotations

import argparse
import re

import attrs
import pytest

from ica_tapis_async import __version__
from ica_tapis_async.cli._config import ConfigError, settings_from
from ica_tapis_async.cli._connect import rate_limit_policy, simulator_knobs
from ica_tapis_async.cli._parser import build_parser
from ica_tapis_async.simulator import SimulatorConfig

from .helpers import Cli, Result

ENV = {
    "ICA_BASE_URL": "https://ica.example/ica/rest",
    "ICA_API_KEY": "env-key-s3cret",
    "ICA_PROJECT_ID": "env-project",
    "TAPIS_BASE_URL": "https://tapis.example",
    "TAPIS_TOKEN": "env-tapis-s3cret",
}


def parse(*argv: str) -> argparse.Namespace:
    """Parse a command line with the real parser."""
    return build_parser().parse_args(list(argv))


def test_environment_fills_the_settings() -> None:
    """Without flags, the ICA_* and TAPIS_* variables are used."""
    settings = settings_from(parse("link", "ids.txt"), ENV)
    assert settings.ica_base_url == "https://ica.example/ica/rest"
    assert settings.api_key == "env-key-s3cret"
    assert settings.project == "env-project"
    assert not settings.simulator


def test_flags_beat_the_environment() -> None:
    """A flag overrides its variable."""
    args = parse(
        "link",
        "--base-url",
        "https://other/ica/rest",
        "--access-token",
        "jwt",
        "--project",
        "p1",
        "--rate",
        "12.5",
        "--concurrency",
        "4",
        "--batch-size",
        "500",
    )
    settings = settings_from(args, ENV)
    assert settings.ica_base_url == "https://other/ica/rest"
    assert settings.access_token == "jwt"
    assert settings.project == "p1"
    assert (settings.rate, settings.concurrency, settings.batch_size) == (12.5, 4, 500)
    policy = rate_limit_policy(settings)
    assert (policy.rate, policy.max_in_flight, policy.burst) == (12.5, 4, 12)


def test_secrets_stay_out_of_the_repr() -> None:
    """The settings' repr shows no key or token."""
    text = repr(settings_from(parse("transfers", "create", "p.txt"), ENV, need_tapis=True))
    assert "s3cret" not in text


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ("link",),
            {},
            "no ICA server: pass --base-url or set ICA_BASE_URL (or icav2's ICAV2_SERVER_URL or "
            "~/.icav2/config.yaml server-url; or try it out with --simulator)",
        ),
        (
            ("link",),
            {"ICA_BASE_URL": "https://x"},
            "no ICA credentials: pass --api-key/--api-key-file/--access-token or set ICA_API_KEY "
            "or ICA_ACCESS_TOKEN (or icav2's ICAV2_X_API_KEY, ICAV2_ACCESS_TOKEN or "
            "~/.icav2/config.yaml)",
        ),
        (
            ("link",),
            {"ICA_BASE_URL": "https://x", "ICA_API_KEY": "k"},
            "no project: pass --project or set ICA_PROJECT_ID",
        ),
        (
            ("link", "--simulator", "--base-url", "https://x"),
            {},
            "--simulator and --base-url/--tapis-url exclude each other; pick one",
        ),
        (("link", "--sim", "rate_limit=5"), ENV, "--sim only applies with --simulator"),
        (
            ("link", "--simulator", "--sim", "oops"),
            {},
            "--sim 'oops': expected KEY=VALUE, e.g. --sim rate_limit=50",
        ),
    ],
)
def test_unusable_configurations(argv: tuple[str, ...], env: dict[str, str], message: str) -> None:
    """Each missing piece is named, with the flag or variable that provides it."""
    with pytest.raises(ConfigError) as raised:
        settings_from(parse(*argv), env)
    assert str(raised.value) == message


def test_tapis_create_needs_tapis_settings() -> None:
    """Tapis commands ask for TAPIS_BASE_URL and TAPIS_TOKEN, not ICA settings."""
    with pytest.raises(ConfigError) as raised:
        settings_from(parse("transfers", "create", "p.txt"), {}, need_ica=False, need_tapis=True)
    assert str(raised.value) == (
        "no Tapis server: pass --tapis-url or set TAPIS_BASE_URL (or try it out with --simulator)"
    )
    with pytest.raises(ConfigError) as raised:
        settings_from(
            parse("transfers", "create", "p.txt"),
            {"TAPIS_BASE_URL": "https://t"},
            need_ica=False,
            need_tapis=True,
        )
    assert str(raised.value) == "no Tapis token: pass --tapis-token or set TAPIS_TOKEN"


def test_simulator_needs_nothing_and_ignores_server_env() -> None:
    """--simulator wins over ICA_BASE_URL and supplies a project."""
    settings = settings_from(parse("link", "--simulator", "--sim", "rate_limit=50"), ENV)
    assert settings.simulator
    assert settings.ica_base_url is None
    assert settings.project == "env-project"
    assert simulator_knobs(settings.sim_knobs) == {"rate_limit": 50.0}


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        (
            "nope=1",
            "--sim nope: unknown simulator setting; known: "
            + ", ".join(sorted(f.name for f in attrs.fields(SimulatorConfig))),
        ),
        ("rate_limit=fast", "--sim rate_limit=fast: expected a number"),
    ],
)
def test_bad_simulator_knobs(knob: str, message: str) -> None:
    """Unknown or mistyped --sim settings are configuration errors."""
    settings = settings_from(parse("link", "--simulator", "--sim", knob), {})
    with pytest.raises(ConfigError) as raised:
        simulator_knobs(settings.sim_knobs)
    assert str(raised.value) == message


def test_simulator_knob_types() -> None:
    """Knob strings become ints, floats, booleans and None as their fields require."""
    knobs = simulator_knobs(
        {"max_page_size": "500", "strict_accept": "false", "rate_limit": "none", "step_s": "0.5"}
    )
    assert knobs == {
        "max_page_size": 500,
        "strict_accept": False,
        "rate_limit": None,
        "step_s": 0.5,
    }


def test_help_documents_the_sample_sheet(cli: Cli) -> None:
    """``analyses --help`` explains the sheet's columns and exits 0."""
    result: Result = cli("analyses", "--help")
    assert result.code == 0
    assert "input:<code>" in result.out
    assert "param:<code>[]" in result.out


def test_usage_errors_exit_2(cli: Cli) -> None:
    """An unknown command or flag is a usage error."""
    unknown, negative = cli("frobnicate"), cli("link", "--rate", "-1")
    # argparse words the choices differently across Python versions; the rest is ours.
    assert unknown.code == 2
    assert re.fullmatch(
        r"error: argument COMMAND: invalid choice: 'frobnicate' \(choose from .*demo.*"
        r"transfers'?, '?status'?, .*verify.*\) \(see ica-tapis-async --help\)\n",
        unknown.err,
    ), unknown.err
    assert (negative.code, negative.err.splitlines()) == (
        2,
        ["error: argument --rate: must be > 0, got -1 (see ica-tapis-async link --help)"],
    )


def test_missing_configuration_exits_2(cli: Cli) -> None:
    """A command without a server explains what to set."""
    result: Result = cli("link", "ids.txt")
    assert (result.code, result.err.splitlines()) == (
        2,
        [
            "error: no ICA server: pass --base-url or set ICA_BASE_URL (or icav2's "
            "ICAV2_SERVER_URL or ~/.icav2/config.yaml server-url; or try it out with --simulator)"
        ],
    )


def test_version(cli: Cli) -> None:
    """--version prints the version."""
    result: Result = cli("--version")
    assert (result.code, result.out) == (0, f"ica-tapis-async {__version__}\n")
