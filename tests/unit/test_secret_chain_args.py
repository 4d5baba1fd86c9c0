"""Credentials stay out of aiohttp's chained exceptions everywhere they are kept: ``args``
(what ``BaseException.__repr__``, pickling and error reporters read) and the error handed to
``on_retry`` before the call ends."""

from __future__ import annotations

import pickle

import anyio
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


async def test_a_deadline_during_a_retry_backoff_carries_no_credential(bad_server: int) -> None:
    """The caller's own deadline (``fail_after``) expires while the call waits to retry a
    connection error: the TimeoutError's ``__context__`` chain (CancelledError, then our
    APIConnectionError, then aiohttp's) reached the caller with the request's headers."""
    retry = ita.RetryPolicy(max_attempts=3, initial_backoff=30, max_backoff=30, jitter=False)
    url = f"http://proxy:{PROXY_PASSWORD}@127.0.0.1:{bad_server}/ica/rest"
    async with ita.IcaClient(url, api_key=API_KEY, retry=retry) as ica:
        with pytest.raises(TimeoutError) as caught, anyio.fail_after(1):
            await ica.data_transfers.get("p", "t")
    chain = list(_chain(caught.value))
    assert any(isinstance(exc, ita.APIConnectionError) for exc in chain)  # the path it took
    text = _everything(caught.value)
    for secret in (API_KEY, PROXY_PASSWORD, BASIC):
        assert secret not in text
