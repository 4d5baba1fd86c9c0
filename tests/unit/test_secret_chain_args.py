"""Credentials stay out of aiohttp's chained exceptions everywhere they are kept: ``args``
(what ``BaseException.__repr__``, pickling and error reporters read) and the error handed to
``on_retry`` before the call ends."""

from __future__ import annotations

import pickle

import pytest

import ica_tapis_async as ita

from .test_secret_chain import _chain, bad_server

__all__ = ("bad_server",)  # the fixture, used by name

API_KEY = "api-key-SECRET-1"
PROXY_PASSWORD = "proxy-pw-SECRET-3"
BASIC = "cHJveHk6"  # base64 of "proxy:", the start of the Basic credentials aiohttp sends


def _everything(error: BaseException) -> str:
    parts: list[str] = []
    for exc in _chain(error):
        parts += [str(exc), repr(exc), repr(vars(exc)), repr(exc.args)]
        try:
            parts.append(repr(pickle.dumps(exc)))
        except Exception as why:  # some aiohttp objects cannot be pickled: that leaks nothing
            parts.append(type(why).__name__)
    return "\n".join(parts)


async def test_the_args_of_a_chained_aiohttp_error_hold_no_credential(bad_server: int) -> None:
    """aiohttp's ClientResponseError keeps (request_info, history) in ``args`` too."""
    url = f"http://proxy:{PROXY_PASSWORD}@127.0.0.1:{bad_server}/ica/rest"
    async with ita.IcaClient(url, api_key=API_KEY, retry=ita.RetryPolicy.never()) as ica:
        with pytest.raises(ita.APIConnectionError) as caught:
            await ica.data_transfers.get("p", "t")
    assert caught.value.__cause__ is not None
    text = _everything(caught.value)
    for secret in (API_KEY, PROXY_PASSWORD, BASIC):
        assert secret not in text


async def test_the_error_given_to_on_retry_holds_no_credential(bad_server: int) -> None:
    """``on_retry`` sees each failed attempt's error before the call ends: scrubbed already."""
    seen: list[str] = []
    retry = ita.RetryPolicy(max_attempts=2, initial_backoff=0, max_backoff=0)
    url = f"http://proxy:{PROXY_PASSWORD}@127.0.0.1:{bad_server}/ica/rest"
    async with ita.IcaClient(url, api_key=API_KEY, retry=retry) as ica:
        with pytest.raises(ita.APIConnectionError):
            await ica.data_transfers.get("p", "t", on_retry=lambda e: seen.append(_everything(e)))
    assert len(seen) == 1
    for secret in (API_KEY, PROXY_PASSWORD, BASIC):
        assert secret not in seen[0]
