import time, math
import pytest
import ica_tapis_async as ita
from ica_tapis_async._core._retry import parse_retry_after
from ..resources.helpers import BATCH, ICA, PROJECT, batch, problem
from .fakes import FakeClock, FakeTransport

URL = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch/{BATCH}"

def test_parse():
    for v in ["inf", "-inf", "1e400", "-5", "nan", "Fri, 31 Dec 9999 23:59:59 GMT",
              "Mon, 01 Jan 0001 00:00:00 GMT", "Wed, 21 Oct 2015 07:28:00 -0000",
              "Wed, 21 Oct 2015 07:28:00 +9999", "Sun, 06 Nov 1994 08:49:37 UTC",
              "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "", " ", "１２",
              "99999999999999999999999999", "Thu, 01 Jan 99999 00:00:00 GMT", "0x10", "1_000"]:
        try:
            print(repr(v), parse_retry_after({"Retry-After": v}, now=time.time()))
        except Exception as e:
            print("ESCAPE", repr(v), type(e), e)

async def test_429_receiver_per_call_timeout():
    clock = FakeClock(); http = FakeTransport(clock)
    http.get(URL, status=429, payload=problem(429), headers={"Retry-After": "60"})
    http.get(URL, status=200, payload=batch())
    async with ita.IcaClient(ICA, api_key="k", transport=http, clock=clock, sleep=clock.sleep,
                             retry=ita.RetryPolicy(total_timeout=None)) as ica:
        t0 = clock.now
        try:
            await ica.data_linking_batches.get(PROJECT, BATCH, timeout=5)
            print("SUCCEEDED after", clock.now - t0)
        except ita.RateLimitError as e:
            print("raised", e.retry_after, clock.now - t0)

async def test_inf():
    clock = FakeClock(); http = FakeTransport(clock)
    http.get(URL, status=429, payload=problem(429), headers={"Retry-After": "inf"})
    async with ita.IcaClient(ICA, api_key="k", transport=http, clock=clock, sleep=clock.sleep) as ica:
        try:
            await ica.data_linking_batches.get(PROJECT, BATCH, max_retries=0)
        except ita.RateLimitError as e:
            print("retry_after", e.retry_after, repr(e))
