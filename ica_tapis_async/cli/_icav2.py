"""ICA settings where ``icav2`` users keep them, after our own flags and ``ICA_*`` variables.

The official ICA CLI reads its flags, then ``ICAV2_*`` variables (``ICAV2_X_API_KEY``,
``ICAV2_ACCESS_TOKEN``, ``ICAV2_SERVER_URL``), then ``~/.icav2/config.yaml`` (``x-api-key``,
``access-token``, ``server-url``). The layers here, first wins:

1. our flags (``--base-url``, ``--api-key`` or ``--api-key-file``, ``--access-token``);
2. ``ICA_BASE_URL``, ``ICA_API_KEY``, ``ICA_ACCESS_TOKEN``;
3. ``ICAV2_SERVER_URL``, ``ICAV2_X_API_KEY``, ``ICAV2_ACCESS_TOKEN``;
4. ``~/.icav2/config.yaml``.

The server and the credentials are resolved apart, the credentials as one unit: the first
layer that has an API key or a token gives both (an API key from one place and a stale token
from another would be sent together). An icav2 server URL is a bare host
(``ica.illumina.com`` -> ``https://ica.illumina.com/ica/rest``) or a URL with a scheme, used
as given with ``/ica/rest`` added when missing. Only where a value came from is ever shown,
never the value.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs

from ._interrupt import interruptible

__all__ = (
    "CONFIG_KEYS",
    "ConfigFileError",
    "ENV_ICAV2",
    "Layer",
    "Resolved",
    "icav2_base_url",
    "read_icav2_config",
    "resolve_ica",
)

#: The icav2 variables, by what they set.
ENV_ICAV2: Final = {
    "base_url": "ICAV2_SERVER_URL",
    "api_key": "ICAV2_X_API_KEY",
    "access_token": "ICAV2_ACCESS_TOKEN",
}
#: The keys of ``~/.icav2/config.yaml``, by what they set.
CONFIG_KEYS: Final = {
    "base_url": "server-url",
    "api_key": "x-api-key",
    "access_token": "access-token",
}
_FIELDS: Final = ("base_url", "api_key", "access_token")


class ConfigFileError(Exception):
    """``--api-key-file`` or ``~/.icav2/config.yaml`` cannot be used (exit 2)."""


@attrs.frozen
class Layer:
    """One place settings can come from: its values (hidden) and how each is named."""

    values: Mapping[str, str] = attrs.field(repr=False)
    names: Mapping[str, str]


@attrs.frozen
class Resolved:
    """The ICA server and credentials, and where each came from (``None``: nowhere)."""

    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    sources: Mapping[str, str | None] = attrs.field(factory=dict)


def icav2_base_url(server: str) -> str:
    """The REST base of an icav2 server URL: a bare host gets ``https://`` and ``/ica/rest``,
    a URL with a scheme only ``/ica/rest`` when it lacks it."""
    text = server.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    return text if text.endswith("/ica/rest") else text + "/ica/rest"


#: What YAML reads as "no value" (``access-token: null`` is no token, not the text "null").
_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
#: A trailing YAML comment: whitespace, then ``#``.
_COMMENT: Final = re.compile(r"\s#")


class _NotText(ValueError):
    """A config value that is not one text value on its line (the reason, never the value)."""


def _quoted(value: str) -> tuple[str, str]:
    """A quoted YAML scalar at the start of ``value``: its text and what follows it."""
    quote, out, i = value[0], [], 1
    while i < len(value):
        char = value[i]
        if char == quote:
            if quote == "'" and value[i + 1 : i + 2] == "'":  # '' is one quote
                out.append("'")
                i += 2
                continue
            return "".join(out), value[i + 1 :]
        if quote == '"' and char == "\\" and value[i + 1 : i + 2] in ('"', "\\"):
            out.append(value[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    raise _NotText("its quote is not closed on the line")


def _scalar(raw: str) -> str | None:
    """The text of a one-line YAML scalar (``None``: null or empty).

    Quotes are removed ('' and \\" are a quote inside them), a trailing comment dropped.

    Raises:
        _NotText: a list or mapping (``[...]``, ``{...}``), a block (``|``, ``>``), a quote
            left open or followed by more than a comment.
    """
    value = raw.strip()
    if value[:1] in ("'", '"'):
        text, rest = _quoted(value)
        rest = rest.strip()
        if rest and not rest.startswith("#"):
            raise _NotText("unexpected text after its closing quote")
        return text
    if value.startswith("#"):
        return None  # "key: # note": no value, only a comment
    value = _COMMENT.split(value, 1)[0].strip()
    if value[:1] in ("[", "{"):
        raise _NotText("a list or mapping, not one value")
    if value[:1] in ("|", ">"):
        raise _NotText("a block, not one value on its line")
    return None if value in _NULLS else value


def read_icav2_config(path: Path) -> dict[str, str]:
    """The settings of an icav2 config file that we use (``{}`` if there is none).

    The file is YAML, read without a YAML library (not a dependency of ours): comments, blank
    lines, a byte order mark, quoted values and nulls are understood. Keys we do not use are
    ignored, nested or not; each key we use must hold one text value on its own line.

    Raises:
        ConfigFileError: it exists but cannot be read, a top-level line is not ``key: value``,
            or a key we use holds something else (named by line and key, never its value).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot be read ({exc})") from None
    used = set(CONFIG_KEYS.values())
    pairs: dict[str, str] = {}
    # The key whose value may go on in the lines below it (indented, or a "- " list).
    parent: tuple[str, int] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        if line[:1].isspace() or stripped == "-" or stripped.startswith("- "):
            if parent is None:
                raise ConfigFileError(f"{path}, line {number}: expected 'key: value'")
            key, start = parent
            if key in used:
                raise ConfigFileError(
                    f"{path}, line {start}: {key}: not one value on its line "
                    "(a list, mapping or block)"
                )
            continue  # a nested setting of a key we do not use
        key, sep, value = stripped.partition(":")
        key = key.strip()
        if not sep or not key:
            raise ConfigFileError(f"{path}, line {number}: expected 'key: value'")
        parent = (key, number)
        if key not in used:
            continue
        try:
            scalar = _scalar(value)
        except _NotText as exc:
            raise ConfigFileError(f"{path}, line {number}: {key}: {exc}") from None
        if scalar is None:
            pairs.pop(key, None)
        else:
            pairs[key] = scalar
    return pairs


def _key_from_file(path: str) -> str:
    try:
        # utf-8-sig: a byte order mark (a Windows editor's) is not part of the key.
        with interruptible():  # a named pipe (a secrets helper) that is never written
            text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigFileError(f"--api-key-file {path}: cannot be read ({reason})") from None
    key = text.rstrip("\r\n")
    if not key.strip():
        raise ConfigFileError(f"--api-key-file {path}: the file is empty")
    if "\n" in key:
        raise ConfigFileError(f"--api-key-file {path}: more than one line; put only the key in it")
    return key


#: The flags of the first layer, by attribute.
_FLAGS: Final = {
    "base_url": "--base-url",
    "api_key": "--api-key",
    "access_token": "--access-token",
    "api_key_file": "--api-key-file",
}


def _flag_layer(args: argparse.Namespace) -> Layer:
    values: dict[str, str] = {}
    names: dict[str, str] = {}
    for attribute, flag in _FLAGS.items():
        given = getattr(args, attribute, None)
        # "--api-key $STAGING_KEY" with the variable unset: skipping the flag would quietly
        # use the next layer's server or key (production's, in ~/.icav2/config.yaml).
        if given is not None and not str(given).strip():
            raise ConfigFileError(f"{flag}: empty value (an unset shell variable?)")
    key_file = getattr(args, "api_key_file", None)
    if getattr(args, "api_key", None) and key_file:
        raise ConfigFileError("--api-key and --api-key-file exclude each other; pick one")
    for field, flag in (("base_url", "--base-url"), ("api_key", "--api-key")):
        value = getattr(args, field, None)
        if value:
            values[field], names[field] = str(value), flag
    token = getattr(args, "access_token", None)
    if token:
        values["access_token"], names["access_token"] = str(token), "--access-token"
    if key_file:
        values["api_key"], names["api_key"] = _key_from_file(key_file), "--api-key-file"
    return Layer(values, names)


def _env_layer(env: Mapping[str, str], variables: Mapping[str, str]) -> Layer:
    values = {field: env[var] for field, var in variables.items() if env.get(var)}
    return Layer(values, {field: variables[field] for field in values})


def _config_layer(env: Mapping[str, str]) -> Layer:
    home = env.get("HOME")
    path = (Path(home) if home else Path.home()) / ".icav2" / "config.yaml"
    pairs = read_icav2_config(path)
    values = {f: pairs[k] for f, k in CONFIG_KEYS.items() if pairs.get(k)}
    return Layer(values, {f: f"~/.icav2/config.yaml ({CONFIG_KEYS[f]})" for f in values})


def resolve_ica(
    args: argparse.Namespace,
    env: Mapping[str, str],
    ica_env: Mapping[str, str],
    *,
    config_file: bool = True,
) -> Resolved:
    """The ICA server and credentials from the four layers (see the module's docstring).

    Args:
        args: the parsed command line.
        env: the environment.
        ica_env: our own variables by field (``ICA_BASE_URL``...).
        config_file: read ``~/.icav2/config.yaml`` when the other layers leave something to
            find (not for ``--simulator``, which needs no server or credentials).

    Raises:
        ConfigFileError: ``--api-key`` with ``--api-key-file``, an unreadable key file or
            icav2 config file.
    """
    flags = _flag_layer(args)
    ours = _env_layer(env, ica_env)
    layers = [flags, ours, _env_layer(env, ENV_ICAV2)]
    # The config file is read only when an earlier layer leaves something to find.
    needed = not any("base_url" in layer.values for layer in layers) or not any(
        "api_key" in layer.values or "access_token" in layer.values for layer in layers
    )
    if needed and config_file:
        layers.append(_config_layer(env))
    sources: dict[str, str | None] = dict.fromkeys(_FIELDS)
    found: dict[str, str] = {}
    for layer in layers:
        if "base_url" not in found and "base_url" in layer.values:
            url = layer.values["base_url"]
            ours_as_given = layer is flags or layer is ours
            found["base_url"] = url if ours_as_given else icav2_base_url(url)
            sources["base_url"] = layer.names["base_url"]
    for layer in layers:
        credentials = [f for f in ("api_key", "access_token") if f in layer.values]
        if credentials:
            for field in credentials:
                found[field] = layer.values[field]
                sources[field] = layer.names[field]
            break
    return Resolved(found.get("base_url"), found.get("api_key"), found.get("access_token"), sources)
