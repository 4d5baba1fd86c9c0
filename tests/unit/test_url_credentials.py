"""User info in a base URL (a proxy's credentials) never reaches error text or logs."""

from __future__ import annotations

import logging
import pickle

import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

SECRET = "topsecret-proxy-pass"
ONE_TRY = ita.RetryPolicy(max_attempts=1)


def _with_user_info(url: str) -> str:
    return url.replace("http://", f"http://proxyuser:{SECRET}@", 1)


async def test_a_status_error_hides_the_password_in_its_url_and_message() -> None:
    async with (
        Simulator() as sim,
        ita.IcaClient(_with_user_info(sim.ica_url), api_key="k", retry=ONE_TRY) as ica,
    ):
        with pytest.raises(ita.BadRequestError) as caught:
            await ica.data_linking_batches.get("p", "not-a-uuid")
    error = caught.value
    assert error.url.startswith("http://proxyuser:***@127.0.0.1:")
    assert str(error).startswith(f"GET {error.url} -> 400")
    for text in (str(error), repr(error), error.url, repr(pickle.loads(pickle.dumps(error)))):
        assert SECRET not in text


async def test_connection_errors_and_retry_logs_hide_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    retry = ita.RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.01)
    url = f"http://proxyuser:{SECRET}@127.0.0.1:1/ica/rest"
    caplog.set_level(logging.DEBUG, logger="ica_tapis_async")
    async with ita.IcaClient(url, api_key="k", retry=retry) as ica:
        with pytest.raises(ita.APIConnectionError) as caught:
            await ica.data_linking_batches.get("p", "0" * 8 + "-0000-0000-0000-" + "0" * 12)
    assert "proxyuser:***@127.0.0.1:1" in str(caught.value)
    assert any("retrying GET" in r.getMessage() for r in caplog.records)
    for text in (str(caught.value), caught.value.url, caplog.text):
        assert SECRET not in text


def test_server_unreachable_error_hides_the_password_of_its_base_url() -> None:
    base = f"https://user:{SECRET}@ica.example.org/ica/rest"
    error = ita.ServerUnreachableError(f"cannot reach {base}", base_url=base)
    assert str(error) == "cannot reach https://user:***@ica.example.org/ica/rest"
    assert error.base_url == "https://user:***@ica.example.org/ica/rest"


def test_a_password_in_a_query_is_hidden_too() -> None:
    url = "https://ica.example.org/ica/rest/api/x?password=s3cret&page=2"
    error = ita.APIError(f"GET {url} -> 400 Bad Request", method="GET", url=url)
    assert error.url == "https://ica.example.org/ica/rest/api/x?password=***&page=2"
    assert str(error) == f"GET {error.url} -> 400 Bad Request"


def test_a_url_without_credentials_is_kept_exactly() -> None:
    url = "https://ica.example.org/ica/rest/api/x?"  # redaction would drop the empty query
    error = ita.APIError(f"GET {url} -> 400", method="GET", url=url)
    assert (error.url, str(error)) == (url, f"GET {url} -> 400")
