"""No credential given to the CLI ever comes back out: reports, errors, logs, reprs."""

from __future__ import annotations

import json
from pathlib import Path

from ica_tapis_async.cli._resume import resume_command
from ica_tapis_async.models import Token
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT
from .shell import Run, finish, start

API_KEY = "sk-live-Qm3vT7xR1pZ9wL2k"
TAPIS_TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRhcGlz.Zk9wq3T"


def _clean(result: Run, *secrets: str) -> None:
    for secret in secrets:
        for stream, text in (("stdout", result.out), ("stderr", result.err)):
            assert secret not in text, f"{secret!r} printed on {stream}"
            assert secret[:12] not in text, f"part of {secret!r} printed on {stream}"


def test_no_secret_in_reports_errors_or_logs(sim: Simulator, tmp_path: Path) -> None:
    """Success (JSON), refused credentials, server faults with retries: the secrets stay out."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"fil.{i:032x}\n" for i in range(50)), encoding="utf-8")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("tapis://a/x tapis://b/x\n", encoding="utf-8")
    with Simulator(api_keys={"another-key"}, tapis_tokens={"another-token"}) as strict:
        strict_flags = ["--api-key", API_KEY, "--project", PROJECT]
        runs = {
            "json": start(
                "link",
                str(ids),
                "--json",
                "--base-url",
                sim.ica_url,
                *strict_flags[:2],
                "--project",
                PROJECT,
            ),
            "ica refused": start("link", str(ids), "--base-url", strict.ica_url, *strict_flags),
            "tapis refused": start(
                "transfers",
                "create",
                str(pairs),
                "--tapis-url",
                strict.base_url,
                f"--tapis-token={TAPIS_TOKEN}",
                "-q",
            ),
        }
        results = {name: finish(process) for name, process in runs.items()}
        refused = (
            f"error: AuthenticationError: POST {strict.ica_url}/api/projects/{PROJECT}/"
            "dataLinkingBatch -> 401 Unauthorized: Unauthorized - The API key is not valid"
        )
    assert results["json"].code == 0, results["json"].err
    assert json.loads(results["json"].out)["total"] == 50
    assert results["ica refused"].code == 1
    assert results["ica refused"].err_lines[-1] == refused
    assert results["tapis refused"].code == 1
    for result in results.values():
        _clean(result, API_KEY, TAPIS_TOKEN)


def test_resume_command_names_variables_not_values() -> None:
    """Every way of giving a credential becomes its variable; other mentions are masked."""
    argv = [
        "link",
        "ids.txt",
        "--api-key",
        API_KEY,
        f"--tapis-token={TAPIS_TOKEN}",
        "--access",
        "jwt-value",
        "--journal",
        f"/tmp/{API_KEY}.sqlite",
    ]
    command, hidden = resume_command(argv, [API_KEY, TAPIS_TOKEN, "jwt-value"])
    assert command == (
        'ica-tapis-async link ids.txt --api-key "$ICA_API_KEY" '
        '--tapis-token="$TAPIS_TOKEN" --access-token "$ICA_ACCESS_TOKEN" '
        "--journal '/tmp/<secret>.sqlite'"
    )
    assert hidden == ["ICA_API_KEY", "TAPIS_TOKEN", "ICA_ACCESS_TOKEN"]


def test_token_repr_hides_the_jwt() -> None:
    """``repr(Token)`` does not show the JWT it carries."""
    token = Token(token=TAPIS_TOKEN)
    assert TAPIS_TOKEN not in repr(token)
    assert TAPIS_TOKEN not in str(token)
    assert token.token == TAPIS_TOKEN


def test_resume_command_hides_passwords_in_urls() -> None:
    """A PostgreSQL journal or a server URL with a password shows ``***`` in its place."""
    argv = [
        "link",
        "ids.txt",
        "--journal",
        "postgresql://ingest:pw-9f3@db/j",
        "--base-url=https://u:pw-9f3@h/ica/rest",
    ]
    command, hidden = resume_command(argv)
    assert command == (
        "ica-tapis-async link ids.txt --journal 'postgresql://***@db/j' "
        "'--base-url=https://u:***@h/ica/rest'"
    )
    assert hidden == []


def test_a_short_credential_is_not_cut_out_of_other_words() -> None:
    """``--api-key any``: the key's flag is replaced, "company-germany" stays as written."""
    argv = ["link", "company-germany.txt", "--api-key", "any", "--journal", "many.sqlite"]
    command, hidden = resume_command(argv, ["any"])
    assert command == (
        'ica-tapis-async link company-germany.txt --api-key "$ICA_API_KEY" --journal many.sqlite'
    )
    assert hidden == ["ICA_API_KEY"]
    # A short credential given as a whole argument elsewhere is still masked.
    command, _ = resume_command(["link", "any", "--run-id=any"], ["any"])
    assert command == "ica-tapis-async link '<secret>' '--run-id=<secret>'"
