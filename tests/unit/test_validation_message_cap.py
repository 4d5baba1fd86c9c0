"""A wrong value in an answer is not repeated whole in the error (issue 20, point 6).

Adversarial review: messages built from a JSON body are cut like text bodies, but a
``ResponseValidationError`` repeated a bad value as the server sent it (``Invalid isoformat
string: '<the whole string>'``): a 60 MiB string made a 60 MiB exception message, logged whole.
"""

from __future__ import annotations

import pytest

import ica_tapis_async as ita

from ..resources.helpers import ICA, PROJECT, UUID, data_transfer
from .fakes import FakeTransport


@pytest.mark.parametrize("value", ["X" * 100_000, "2024-01-01T00:00:00" + "0" * 100_000])
async def test_a_huge_bad_value_is_cut_in_the_error_message(value: str) -> None:
    """A 100 kB bad date-time: the error names the field and stays a few hundred characters."""
    http = FakeTransport()
    http.get(
        f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}",
        payload={**data_transfer(), "timeCreated": value},
    )
    async with ita.IcaClient(ICA, api_key="k", transport=http) as ica:
        with pytest.raises(ita.ResponseValidationError) as caught:
            await ica.data_transfers.get(PROJECT, UUID)
    assert caught.value.path == "timeCreated"
    assert "isoformat" in str(caught.value)
    assert len(str(caught.value)) < 1000
    assert len(repr(caught.value)) < 1000
