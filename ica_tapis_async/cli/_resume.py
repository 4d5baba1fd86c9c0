"""The resume command printed after Ctrl-C, with every credential replaced by its variable."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from typing import Final

from .._redact import redact_url
from ._config import ENV_ACCESS_TOKEN, ENV_API_KEY, ENV_TAPIS_TOKEN

__all__ = ("SECRET_FLAGS", "resume_command")

PROG: Final = "ica-tapis-async"

#: Flags whose value is a credential, and the variable that can hold it instead.
SECRET_FLAGS: Final = {
    "--api-key": ENV_API_KEY,
    "--access-token": ENV_ACCESS_TOKEN,
    "--tapis-token": ENV_TAPIS_TOKEN,
}
_MASK: Final = "<secret>"
#: A credential shorter than this (``--api-key any`` against a simulator) is too likely to be
#: part of ordinary words ("company-germany") to be cut out of them: it is masked only where it
#: is a whole argument or a flag's whole value.
_MIN_EMBEDDED: Final = 8


def _masked(token: str, masks: Sequence[str]) -> str:
    """``token`` with the credentials in it masked (see :data:`_MIN_EMBEDDED`)."""
    name, eq, value = token.partition("=") if token.startswith("--") else ("", "", token)
    if value in masks:
        return name + eq + _MASK
    for secret in masks:
        if len(secret) >= _MIN_EMBEDDED:
            token = token.replace(secret, _MASK)
    return token


def _secret_flag(token: str) -> str | None:
    """The secret flag ``token`` names, abbreviations included (argparse accepts ``--api``)."""
    if not token.startswith("--") or len(token) < 3:
        return None
    name = token.partition("=")[0]
    matches = [flag for flag in SECRET_FLAGS if flag.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def resume_command(argv: Sequence[str], secrets: Iterable[str] = ()) -> tuple[str, list[str]]:
    """The shell command that reruns ``argv``, and the variables it refers to.

    A credential given as a flag becomes ``"$ICA_API_KEY"`` (and so on): the line can be pasted
    into a shell that has the variable set. Any other argument containing one of ``secrets``
    (a value the run resolved as a credential) has it masked as well (a short one only where it
    is the whole argument or value), and so has a password in a URL (``***``).
    """
    masks = sorted({s for s in secrets if s}, key=len, reverse=True)
    words: list[str] = [PROG]
    hidden: list[str] = []
    pending: str | None = None
    for token in argv:
        if pending is not None:
            words.append(f'"${pending}"')
            hidden.append(pending)
            pending = None
            continue
        flag = _secret_flag(token)
        if flag is not None:
            variable = SECRET_FLAGS[flag]
            if "=" in token:
                words.append(f'{flag}="${variable}"')
                hidden.append(variable)
            else:
                words.append(flag)
                pending = variable
            continue
        token = _masked(token, masks)
        if "://" in token:
            # A journal or server URL may carry a password (postgresql://user:pw@db/...).
            name, eq, value = token.partition("=") if token.startswith("--") else ("", "", token)
            token = name + eq + redact_url(value)
        words.append(shlex.quote(token))
    return " ".join(words), list(dict.fromkeys(hidden))
