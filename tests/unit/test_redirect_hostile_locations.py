"""Hostile redirect targets (adversarial review of issue 20, points 1 and 9).

A ``Location`` naming port 0 passed as the *same origin* as the API (``same_origin`` reads a
port of 0 as "no port", i.e. the default), so it kept every credential, and was sent to a port
no server listens on: a bad port, which point 1 makes an ``APIConnectionError`` at the redirect.
"""

from __future__ import annotations

import pytest

import ica_tapis_async as ita
from ica_tapis_async._core._redirect import next_hop
from ica_tapis_async._core._request import same_origin

URL = "https://ica.test/ica/rest/api/x"
CREDENTIALS = {"X-API-Key": "k", "Authorization": "Bearer t"}


@pytest.mark.parametrize(
    "location", ["https://ica.test:0/y", "//ica.test:0/y", "https://ica.test:00/y"]
)
def test_a_location_on_port_0_is_refused(location: str) -> None:
    """Port 0 is no port a server listens on: refused, with no credential sent anywhere."""
    with pytest.raises(ita.APIConnectionError, match="port"):
        next_hop("GET", URL, CREDENTIALS, None, status=302, response_headers={"Location": location})


def test_port_0_is_not_the_default_port() -> None:
    """``same_origin`` does not take port 0 for the scheme's default port."""
    assert not same_origin("https://ica.test/x", "https://ica.test:0/x")
    assert same_origin("https://ica.test/x", "https://ica.test:443/x")
