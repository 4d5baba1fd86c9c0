"""Open the clients a command needs: against a server, or against an in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import attrs

from .._client import IcaClient, TapisClient
from .._config import RateLimitPolicy
from .._errors import APIError, ServerUnreachableError
from ._config import ConfigError, Settings
from ._observe import current_telemetry

__all__ = ("Connection", "connect", "raise_if_unreachable", "simulator_knobs")

#: Credentials the in-process simulator accepts (it accepts any non-empty value by default).
SIM_API_KEY = "simulator-api-key"
SIM_TAPIS_TOKEN = "simulator-tapis-token"


@attrs.define
class Connection:
    """The open clients of one command, and the simulator behind them if any."""

    ica: IcaClient | None
    tapis: TapisClient | None
    project: str | None
    simulator: Any = None

    def need_ica(self) -> IcaClient:
        """The ICA client (the command asked for one)."""
        assert self.ica is not None
        return self.ica

    def need_tapis(self) -> TapisClient:
        """The Tapis client (the command asked for one)."""
        assert self.tapis is not None
        return self.tapis

    def need_project(self) -> str:
        """The project id (checked when the settings were resolved)."""
        assert self.project is not None
        return self.project


def _convert(name: str, kind: str, text: str) -> Any:
    if text.lower() in ("none", "null", "off") and "None" in kind:
        return None
    if kind.startswith("bool"):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"--sim {name}={text}: expected true or false")
    try:
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float") and "Literal" not in kind:
            return float(text)
    except ValueError:
        raise ConfigError(f"--sim {name}={text}: expected a number") from None
    return text


def simulator_knobs(knobs: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``--sim KEY=VALUE`` strings into typed simulator settings.

    Raises:
        ConfigError: an unknown setting or a value of the wrong type.
    """
    from ..simulator import SimulatorConfig

    fields = {f.name: str(f.type) for f in attrs.fields(SimulatorConfig)}
    out: dict[str, Any] = {}
    for name, text in knobs.items():
        if name not in fields:
            raise ConfigError(
                f"--sim {name}: unknown simulator setting; known: {', '.join(sorted(fields))}"
            )
        out[name] = _convert(name, fields[name], text)
    return out


def rate_limit_policy(settings: Settings) -> RateLimitPolicy:
    """The client pacing for ``--rate`` and ``--concurrency``."""
    burst = 20 if settings.rate is None else max(1, min(20, int(settings.rate)))
    return RateLimitPolicy(rate=settings.rate, burst=burst, max_in_flight=settings.concurrency)


@asynccontextmanager
async def connect(
    settings: Settings,
    *,
    ica: bool = True,
    tapis: bool = False,
    limiter: Any = None,
    **sim_defaults: Any,
) -> AsyncIterator[Connection]:
    """Open the clients (and the simulator for ``--simulator``); close them all on exit.

    Args:
        settings: the resolved settings.
        ica / tapis: which clients to open.
        limiter: a shared rate limiter for the ICA client (``--shared-limit``); closed on exit.
        sim_defaults: simulator settings used unless ``--sim`` overrides them.
    """
    async with AsyncExitStack() as stack:
        if limiter is not None:
            stack.push_async_callback(limiter.aclose)
        ica_url, tapis_url = settings.ica_base_url, settings.tapis_base_url
        api_key, access_token = settings.api_key, settings.access_token
        tapis_token = settings.tapis_token
        sim: Any = None
        if settings.simulator:
            from ..simulator import Simulator

            knobs = {**sim_defaults, **simulator_knobs(settings.sim_knobs)}
            try:
                sim = await stack.enter_async_context(Simulator(**knobs))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"--sim: {exc}") from None
            ica_url, tapis_url = sim.ica_url, sim.tapis_url
            if not (api_key or access_token):
                api_key = SIM_API_KEY
            tapis_token = tapis_token or SIM_TAPIS_TOKEN
        policy = rate_limit_policy(settings)
        ica_client = tapis_client = None
        try:
            if ica:
                assert ica_url is not None
                ica_client = await stack.enter_async_context(
                    IcaClient(
                        ica_url,
                        api_key=api_key,
                        access_token=access_token,
                        rate_limit=policy,
                        limiter=limiter,
                        max_connections=max(settings.concurrency, 1),
                        unreachable_after=settings.unreachable_after,
                        telemetry=current_telemetry(),
                    )
                )
            if tapis:
                assert tapis_url is not None and tapis_token is not None
                tapis_client = await stack.enter_async_context(
                    TapisClient(
                        tapis_url,
                        token=tapis_token,
                        rate_limit=policy,
                        max_connections=max(settings.concurrency, 1),
                        unreachable_after=settings.unreachable_after,
                        telemetry=current_telemetry(),
                    )
                )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        yield Connection(ica_client, tapis_client, settings.project, sim)


async def raise_if_unreachable(conn: Connection) -> None:
    """Raise :class:`ServerUnreachableError` if a client has found its server down.

    Called when nothing of a run succeeded: the orchestrators report each item (IN_DOUBT,
    NOT_SUBMITTED...) rather than raise, so a thousand items would each repeat that the server
    is down. A client that has given up on its server raises at once, without sending; one that
    has not sends one small GET, whose other errors the run's report already tells.
    """
    try:
        if conn.ica is not None and conn.project is not None:
            await conn.ica.data_transfers.list(conn.project, page_size=1)
        if conn.tapis is not None:
            await conn.tapis.transfers.list_recent(page_size=1)
    except ServerUnreachableError:
        raise
    except APIError:
        return
