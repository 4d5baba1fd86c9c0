"""Connection settings: command-line flags first, then the ``ICA_*`` / ``TAPIS_*`` variables,
then what ``icav2`` users keep (``ICAV2_*`` variables, ``~/.icav2/config.yaml``: ``_icav2``).

Secrets (API key, tokens) never appear in reprs or messages: :class:`Settings` hides them.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ._icav2 import ConfigFileError, resolve_ica

__all__ = (
    "ENV_ACCESS_TOKEN",
    "ENV_API_KEY",
    "ENV_ICA_BASE_URL",
    "ENV_PROJECT",
    "ENV_TAPIS_BASE_URL",
    "ENV_TAPIS_TOKEN",
    "ConfigError",
    "Settings",
    "add_connection_flags",
    "add_run_flags",
    "setting_sources",
    "settings_from",
)

ENV_ICA_BASE_URL: Final = "ICA_BASE_URL"
ENV_API_KEY: Final = "ICA_API_KEY"
ENV_ACCESS_TOKEN: Final = "ICA_ACCESS_TOKEN"
ENV_TAPIS_BASE_URL: Final = "TAPIS_BASE_URL"
ENV_TAPIS_TOKEN: Final = "TAPIS_TOKEN"
ENV_PROJECT: Final = "ICA_PROJECT_ID"

#: The project used against the in-process simulator when none is given.
SIMULATOR_PROJECT: Final = "5a1e0000-0000-4000-8000-00000000d3e0"


class ConfigError(Exception):
    """The flags and environment do not describe a usable connection (exit code 2)."""


@attrs.frozen
class Settings:
    """Everything a command needs to connect, resolved from flags and the environment.

    Attributes:
        ica_base_url: ICA REST base, e.g. ``https://ica.illumina.com/ica/rest``.
        api_key / access_token: ICA credentials (one is needed for a real server).
        tapis_base_url / tapis_token: Tapis tenant URL and JWT.
        project: the ICA project id.
        simulator: run against an in-process simulator instead of a server.
        sim_knobs: simulator settings from ``--sim KEY=VALUE``.
        rate: client requests per second (``None``: adaptive, no fixed limit).
        concurrency: most requests in flight at once.
        batch_size / max_batches: orchestrator chunking and batches in flight.
        unreachable_after: seconds of nothing but failed connections before the run stops
            (``None``: retry as usual).
        sources: where each connection setting came from (see :func:`setting_sources`).
    """

    ica_base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    tapis_base_url: str | None = None
    tapis_token: str | None = attrs.field(default=None, repr=False)
    project: str | None = None
    simulator: bool = False
    sim_knobs: Mapping[str, str] = attrs.field(factory=dict)
    rate: float | None = None
    concurrency: int = 32
    batch_size: int | None = None
    max_batches: int = 8
    unreachable_after: float | None = 10.0
    sources: Mapping[str, str | None] = attrs.field(factory=dict)

    @property
    def secrets(self) -> list[str]:
        """The credentials given (to mask wherever the run is echoed back)."""
        return [s for s in (self.api_key, self.access_token, self.tapis_token) if s]


def add_connection_flags(parser: argparse.ArgumentParser, *, tapis: bool = False) -> None:
    """Add the connection flags (``--base-url``, credentials, ``--simulator``, knobs)."""
    group = parser.add_argument_group("connection (flags win over the environment)")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"ICA REST base URL, e.g. https://ica.illumina.com/ica/rest (env {ENV_ICA_BASE_URL})",
    )
    group.add_argument("--api-key", metavar="KEY", help=f"ICA API key (env {ENV_API_KEY})")
    group.add_argument(
        "--api-key-file",
        metavar="PATH",
        help="read the ICA API key from this file (its trailing newline is dropped)",
    )
    group.add_argument(
        "--access-token", metavar="JWT", help=f"ICA bearer JWT (env {ENV_ACCESS_TOKEN})"
    )
    if tapis:
        group.add_argument(
            "--tapis-url", metavar="URL", help=f"Tapis tenant base URL (env {ENV_TAPIS_BASE_URL})"
        )
        group.add_argument(
            "--tapis-token", metavar="JWT", help=f"Tapis JWT (env {ENV_TAPIS_TOKEN})"
        )
    group.add_argument(
        "--simulator",
        action="store_true",
        help="run against an in-process simulator (no server or credentials needed)",
    )
    group.add_argument(
        "--sim",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a simulator setting for --simulator, e.g. --sim rate_limit=50 (repeatable)",
    )
    group.add_argument(
        "--rate",
        type=_positive_float,
        metavar="N",
        help="client requests per second (default: none, slowing down adaptively on 429)",
    )
    group.add_argument(
        "--concurrency",
        type=_positive_int,
        default=32,
        metavar="N",
        help="most HTTP requests in flight at once (default 32)",
    )
    group.add_argument(
        "--unreachable-after",
        type=_seconds_or_off,
        default=10.0,
        metavar="S",
        help="stop when no connection at all has succeeded for S seconds (default 10; 'off': "
        "keep retrying)",
    )


def add_run_flags(parser: argparse.ArgumentParser, *, project: bool = True) -> None:
    """Add ``--project``, ``--json``, ``--quiet`` (and nothing else) to a subcommand."""
    if project:
        parser.add_argument(
            "--project",
            metavar="ID",
            help=f"ICA project id (env {ENV_PROJECT}; optional with --simulator)",
        )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars (the report is still printed)"
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    # nan passes "<= 0" and inf would mean "no limit" by accident: both are refused here.
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _seconds_or_off(text: str) -> float | None:
    if text.strip().lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds or 'off': {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number (or 'off'), got {text}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (or 'off'), got {text}")
    return value


positive_int = _positive_int
positive_float = _positive_float


def _knobs(pairs: list[str]) -> dict[str, str]:
    knobs: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--sim {pair!r}: expected KEY=VALUE, e.g. --sim rate_limit=50")
        knobs[key.strip().replace("-", "_")] = value.strip()
    return knobs


_ICA_ENV: Final = {
    "base_url": ENV_ICA_BASE_URL,
    "api_key": ENV_API_KEY,
    "access_token": ENV_ACCESS_TOKEN,
}


def _source(args: argparse.Namespace, env: Mapping[str, str], flag: str, var: str) -> str | None:
    if getattr(args, flag, None):
        return "--" + flag.replace("_", "-")
    return var if env.get(var) else None


def setting_sources(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """Where each connection setting of a command comes from, never its value.

    Keys: ``base_url``, ``api_key``, ``access_token``, ``tapis_base_url``, ``tapis_token``,
    ``project``; values such as ``"--api-key-file"``, ``"ICA_API_KEY"``,
    ``"ICAV2_X_API_KEY"``, ``"~/.icav2/config.yaml (x-api-key)"``, or ``None`` (not set).

    Raises:
        ConfigError: as :func:`settings_from` (a key file or icav2 config that cannot be read).
    """
    return dict(settings_from(args, environ, need_ica=False).sources)


def settings_from(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    *,
    need_ica: bool = True,
    need_tapis: bool = False,
) -> Settings:
    """Resolve the settings of a command from its parsed flags and the environment.

    Args:
        args: the parsed command line.
        environ: the environment (default ``os.environ``).
        need_ica / need_tapis: which services the command talks to.

    Raises:
        ConfigError: no server and no ``--simulator``, or a server without credentials.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ

    def pick(flag: str, var: str) -> str | None:
        value: Any = getattr(args, flag, None)
        if value:
            return str(value)
        return env.get(var) or None

    simulator = bool(getattr(args, "simulator", False))
    flag_url = getattr(args, "base_url", None) or getattr(args, "tapis_url", None)
    if simulator and flag_url:
        raise ConfigError("--simulator and --base-url/--tapis-url exclude each other; pick one")
    if simulator and getattr(args, "journal", None):
        raise ConfigError(
            "--simulator and --journal: a run against the in-process simulator cannot be "
            "resumed (the simulator's state ends with the process). To try resuming, serve "
            "one with 'ica-tapis-async simulator --port 8080' and pass --base-url "
            "http://127.0.0.1:8080/ica/rest --api-key any instead of --simulator"
        )
    knobs = _knobs(list(getattr(args, "sim", []) or []))
    if knobs and not simulator:
        raise ConfigError("--sim only applies with --simulator")
    try:
        # The simulator needs no server or credentials: an icav2 config file we cannot use
        # must not stop it.
        ica = resolve_ica(args, env, _ICA_ENV, config_file=not simulator)
    except ConfigFileError as exc:
        if need_ica:
            raise ConfigError(str(exc)) from None
        try:  # a Tapis-only command: an icav2 (ICA) config it cannot use is not its problem
            ica = resolve_ica(args, env, _ICA_ENV, config_file=False)
        except ConfigFileError as again:  # --api-key-file's own
            raise ConfigError(str(again)) from None
    project = pick("project", ENV_PROJECT)
    settings = Settings(
        ica_base_url=None if simulator else ica.base_url,
        api_key=ica.api_key,
        access_token=ica.access_token,
        tapis_base_url=None if simulator else pick("tapis_url", ENV_TAPIS_BASE_URL),
        tapis_token=pick("tapis_token", ENV_TAPIS_TOKEN),
        project=project or (SIMULATOR_PROJECT if simulator else None),
        simulator=simulator,
        sim_knobs=knobs,
        rate=getattr(args, "rate", None),
        concurrency=getattr(args, "concurrency", None) or 32,
        batch_size=getattr(args, "batch_size", None),
        max_batches=getattr(args, "max_batches", None) or 8,
        unreachable_after=getattr(args, "unreachable_after", 10.0),
        sources={
            **ica.sources,
            "base_url": "--simulator" if simulator else ica.sources["base_url"],
            "tapis_base_url": "--simulator"
            if simulator
            else _source(args, env, "tapis_url", ENV_TAPIS_BASE_URL),
            "tapis_token": _source(args, env, "tapis_token", ENV_TAPIS_TOKEN),
            "project": _source(args, env, "project", ENV_PROJECT)
            or ("--simulator" if simulator else None),
        },
    )
    if simulator:
        return settings
    if need_ica:
        if not settings.ica_base_url:
            raise ConfigError(
                f"no ICA server: pass --base-url or set {ENV_ICA_BASE_URL} (or icav2's "
                "ICAV2_SERVER_URL or ~/.icav2/config.yaml server-url; or try it out with "
                "--simulator)"
            )
        if not (settings.api_key or settings.access_token):
            raise ConfigError(
                "no ICA credentials: pass --api-key/--api-key-file/--access-token or set "
                f"{ENV_API_KEY} or {ENV_ACCESS_TOKEN} (or icav2's ICAV2_X_API_KEY, "
                "ICAV2_ACCESS_TOKEN or ~/.icav2/config.yaml)"
            )
        if getattr(args, "project", False) is not False and not settings.project:
            raise ConfigError(f"no project: pass --project or set {ENV_PROJECT}")
    if need_tapis:
        if not settings.tapis_base_url:
            raise ConfigError(
                f"no Tapis server: pass --tapis-url or set {ENV_TAPIS_BASE_URL} "
                "(or try it out with --simulator)"
            )
        if not settings.tapis_token:
            raise ConfigError(f"no Tapis token: pass --tapis-token or set {ENV_TAPIS_TOKEN}")
    return settings
