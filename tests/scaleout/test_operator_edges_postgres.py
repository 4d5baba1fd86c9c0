"""An unreachable server and credentials expiring mid-run, on a PostgreSQL journal (issue 19,
point 9): NOT_SUBMITTED, never IN_DOUBT, and a resumable run that later sends each item once."""

from __future__ import annotations

from tests.orchestrator.test_expired_token import token_expires_midway
from tests.orchestrator.test_unreachable import down_until_up


async def test_a_down_server_is_not_submitted_until_it_is_up(pg_dsn: str) -> None:
    await down_until_up(pg_dsn)


async def test_a_token_expiring_mid_run_returns_the_report_and_resumes(pg_dsn: str) -> None:
    await token_expires_midway(pg_dsn)
