"""SimulatorConfig: every knob of the simulator in one frozen attrs class.

Defaults are chosen so that tests run fast (a batch of 1,000 items finishes in about 0.1 s) while
the behaviour stays that of the real services; ``SimulatorConfig.realistic()`` gives slower, more
lifelike timings for demos and benchmarks. Each field's metadata carries the help text that the CLI
shows, so the flags and the docs cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import attrs

__all__ = ("FAITHFUL_PROFILE", "SimulatorConfig")

RetryAfter = float | Literal["auto"] | None

#: The knobs :meth:`SimulatorConfig.faithful` (and the CLI's ``--faithful``) turn on.
FAITHFUL_PROFILE: dict[str, Any] = {
    "count_error": 0.25,
    "count_absent_rate": 0.1,
    "extra_fields": True,
    "unknown_fields": True,
    "v4_get_needs_content_type": True,
    "uuid_pipeline_ids": True,
    "idempotent_processing_s": 0.05,
    "tapis_retry_rate": 0.2,
}


def _opt_set(value: Iterable[str] | str | None) -> frozenset[str] | None:
    """Accept any iterable of strings (or one comma-joined string) for a credential/id set."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return frozenset(value)


def _retry_after(value: Any) -> RetryAfter:
    if value is None or value == "auto":
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) and value.lower() in ("none", "off", ""):
        return None
    return float(value)


def _probability(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _knob(default: Any, help: str, *, secret: bool = False, **kwargs: Any) -> Any:
    """One config field; ``help`` feeds the CLI flag of the same name.

    ``secret`` fields (credential sets) show only their size in reprs and ``to_dict``.
    """
    if secret:
        kwargs["repr"] = _mask
    return attrs.field(default=default, metadata={"help": help, "secret": secret}, **kwargs)


def _mask(value: object) -> str:
    return "None" if value is None else f"<{len(value)} secret values>"  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class SimulatorConfig:
    """All the knobs of :class:`~ica_tapis_async.simulator.Simulator`.

    Change one with ``Simulator(p_503=0.1)``, ``sim.configure(p_503=0.0)`` or
    ``attrs.evolve(config, ...)``. Sets of credentials/ids accept any iterable of strings (or a
    comma-joined string). Timings are in seconds of simulated time (see ``time_scale``).
    """

    # --- server ------------------------------------------------------------------------------
    host: str = _knob("127.0.0.1", "interface to listen on")
    port: int = _knob(0, "TCP port; 0 picks a free one", validator=_non_negative)
    seed: int = _knob(0, "seed of every random choice (faults, seeded transfers, ids)")
    time_scale: float = _knob(
        1.0, "simulated seconds per real second (batch progression, expiries)", validator=_positive
    )

    # --- latency and progression --------------------------------------------------------------
    latency_s: float = _knob(
        0.0, "fixed latency added to every API response", validator=_non_negative
    )
    latency_jitter_s: float = _knob(
        0.0, "extra uniform random latency in [0, jitter]", validator=_non_negative
    )
    step_s: float = _knob(
        0.02,
        "duration of each batch status step (INITIALISED, WAITING_RESOURCES, RUNNING)",
        validator=_non_negative,
    )
    item_rate: float = _knob(
        20_000.0, "items per second that one batch finishes once it runs", validator=_positive
    )
    analysis_run_s: float = _knob(
        0.1,
        "how long a created analysis stays REQUESTED and then IN_PROGRESS",
        validator=_non_negative,
    )
    transfer_duration_s: float = _knob(
        0.5, "typical duration of a seeded ICA data transfer", validator=_non_negative
    )
    transfers_per_project: int = _knob(
        25, "ICA data transfers seeded in each project", validator=_non_negative
    )

    # --- rate limiting --------------------------------------------------------------------------
    rate_limit: float | None = _knob(
        None, "ICA requests/s allowed per credential (429 beyond); None = off", validator=_positive
    )
    tapis_rate_limit: float | None = _knob(
        None, "Tapis requests/s per token; the real Tapis has none, so off", validator=_positive
    )
    rate_limit_burst: int | None = _knob(
        None, "token-bucket size; None = one second's worth of requests", validator=_positive
    )
    retry_after: RetryAfter = _knob(  # noqa: RUF009 - attrs field, like the others
        1.0,
        "Retry-After seconds sent with 429: a number, 'auto' (time to the next token), or None",
        converter=_retry_after,
    )

    # --- faults --------------------------------------------------------------------------------
    p_500: float = _knob(
        0.0, "probability of a 500 Problem before processing", validator=_probability
    )
    p_503: float = _knob(
        0.0, "probability of a 503 Problem before processing", validator=_probability
    )
    p_drop_before: float = _knob(
        0.0, "probability of closing the connection before processing", validator=_probability
    )
    p_drop_after_post: float = _knob(
        0.0,
        "probability that a POST is processed and then the connection closed unanswered",
        validator=_probability,
    )
    p_slow: float = _knob(0.0, "probability of a slow response", validator=_probability)
    slow_s: float = _knob(1.0, "extra delay of a slow response", validator=_non_negative)
    fault_operations: frozenset[str] | None = _knob(
        None,
        "operation ids that faults may hit (e.g. createAnalysisCreationBatch); None = all",
        converter=_opt_set,
    )

    # --- auth ----------------------------------------------------------------------------------
    api_keys: frozenset[str] | None = _knob(
        None,
        "accepted ICA X-API-Key values; None = any non-empty key",
        converter=_opt_set,
        secret=True,
    )
    bearer_tokens: frozenset[str] | None = _knob(
        None,
        "accepted opaque ICA bearer tokens (JWTs issued here are always accepted); None = any",
        converter=_opt_set,
        secret=True,
    )
    basic_credentials: frozenset[str] | None = _knob(
        None,
        "accepted 'email:password' pairs for POST /api/tokens; None = any",
        converter=_opt_set,
        secret=True,
    )
    tapis_tokens: frozenset[str] | None = _knob(
        None,
        "accepted X-Tapis-Token values; None = any non-empty token",
        converter=_opt_set,
        secret=True,
    )
    jwt_ttl_s: float = _knob(
        3600.0, "lifetime of JWTs issued by POST /api/tokens", validator=_positive
    )
    api_key_jwt_refresh_status: int = _knob(
        400, "status of tokens:refresh for a JWT made from an API key (undocumented code)"
    )

    # --- content negotiation and validation ----------------------------------------------------
    strict_accept: bool = _knob(
        True, "a missing Accept header is a 400 ICA_API_004 (as observed); False = like */*"
    )
    v4_get_needs_content_type: bool = _knob(
        False, "GETs answer v4 only when Content-Type also names v4 (else 400 ICA_API_004)"
    )
    strict_requests: bool = _knob(
        True, "unknown fields in request bodies are a 400 naming the field"
    )
    extra_fields: bool = _knob(
        False, "add the real servers' fields that the specs lack (Problem.method, Tapis ids)"
    )
    unknown_fields: bool = _knob(
        False,
        "add random properties no spec names to answers (top level and nested objects), as "
        "services do when they grow",
    )
    uuid_pipeline_ids: bool = _knob(
        False, "a pipelineId that is not a UUID is a 400 Problem (the real service's ids are)"
    )
    gzip: bool = _knob(True, "gzip ICA answers when the request sends Accept-Encoding: gzip")
    max_body_bytes: int = _knob(
        256 * 1024 * 1024, "largest request body accepted", validator=_positive
    )

    # --- paging --------------------------------------------------------------------------------
    count_error: float = _knob(
        0.0,
        "remainingRecords is approximate: off by up to this share of the true count, up or down, "
        "on each cursor page (so it can rise or fall between pages)",
        validator=_probability,
    )
    count_absent_rate: float = _knob(
        0.0, "probability that a cursor page carries no remainingRecords", validator=_probability
    )
    max_page_size: int = _knob(1000, "largest pageSize accepted (400 beyond)", validator=_positive)
    default_page_size: int = _knob(100, "pageSize when none is given", validator=_positive)
    offset_result_limit: int = _knob(
        200_000, "offset paging refuses pageOffset + pageSize beyond this", validator=_positive
    )

    # --- data rules ----------------------------------------------------------------------------
    unknown_marker: str = _knob(
        "missing", "data ids, pipeline ids and Tapis sources containing this do not exist"
    )
    partial_marker: str = _knob("partial", "folders containing this are PARTIALLY_LINKED/UPDATED")
    partial_folder_rate: float = _knob(
        0.0, "share of other folders whose content is partly unavailable", validator=_probability
    )
    known_pipelines: frozenset[str] | None = _knob(
        None,
        "pipeline ids that exist; None = any id without the unknown marker",
        converter=_opt_set,
    )
    known_projects: frozenset[str] | None = _knob(
        None, "project ids that exist (others 404); None = any", converter=_opt_set
    )
    folder_dates: Literal["fail_item", "reject"] = _knob(
        "fail_item",
        "archive/delete dates on a folder: FAILED item, or 'reject' the request with 400",
        validator=attrs.validators.in_(("fail_item", "reject")),
    )
    v3_folder_contents: int = _knob(
        0,
        "files added as separate items per folder in a V3 linking batch (0 = off)",
        validator=_non_negative,
    )
    track_link_submissions: bool = _knob(
        True, "count linking submissions per data id in the stats (memory grows with ids)"
    )

    stop_rate: float = _knob(
        0.0,
        "share of batches whose job ends STOPPED with items still pending",
        validator=_probability,
    )
    stop_pending_share: float = _knob(
        0.5,
        "share of a stopped batch's items left pending (never processed)",
        validator=_probability,
    )

    # --- limits --------------------------------------------------------------------------------
    max_linking_items: int = _knob(100_000, "most items in one linking batch", validator=_positive)
    max_update_data_ids: int = _knob(
        100_000, "most data ids in one update batch (documented)", validator=_positive
    )
    max_analysis_items: int | None = _knob(
        None, "most items in one analysis creation batch; None = no limit", validator=_positive
    )

    # --- idempotency ---------------------------------------------------------------------------
    idempotency_ttl_s: float = _knob(
        7 * 24 * 3600.0, "how long a stored idempotent response lives", validator=_positive
    )
    idempotent_processing_s: float = _knob(
        0.0,
        "time a create sent with an Idempotency-Key takes (a repeat meanwhile gets 409)",
        validator=_non_negative,
    )

    # --- Tapis ---------------------------------------------------------------------------------
    tapis_step_s: float = _knob(
        0.02, "duration of each Tapis task/parent step", validator=_non_negative
    )
    tapis_file_s: float = _knob(0.005, "time to copy one file (one child)", validator=_non_negative)
    tapis_max_files: int = _knob(
        10_000,
        "files per element beyond which the parent fails (MAX_TRANSFER_COUNT)",
        validator=_positive,
    )
    tapis_retry_rate: float = _knob(
        0.0,
        "share of Tapis children whose copy fails at first and succeeds on a later try",
        validator=_probability,
    )
    tapis_child_fail_rate: float = _knob(
        0.0,
        "share of Tapis children that fail every try (a required one fails its parent and task)",
        validator=_probability,
    )
    tapis_max_tries: int = _knob(
        3, "tries of one child before it fails (documented: 3)", validator=_positive
    )
    tapis_version: str = _knob("1.8.2", "the 'version' of Tapis envelopes")

    @classmethod
    def realistic(cls, **changes: Any) -> SimulatorConfig:
        """Slower, lifelike timings and some latency, for demos and benchmarks.

        Args:
            changes: fields to override on top of the realistic profile.
        """
        profile: dict[str, Any] = {
            "latency_s": 0.03,
            "latency_jitter_s": 0.04,
            "step_s": 2.0,
            "item_rate": 500.0,
            "analysis_run_s": 30.0,
            "transfer_duration_s": 60.0,
            "tapis_step_s": 1.0,
            "tapis_file_s": 0.2,
            "rate_limit": 50.0,
        }
        profile.update(changes)
        return cls(**profile)

    @classmethod
    def faithful(cls, **changes: Any) -> SimulatorConfig:
        """Fast timings with the real services' imperfections on, for integration tests.

        Approximate and sometimes absent ``remainingRecords``, unknown fields in answers (plus
        the observed extra fields), the v4-GET-needs-v4-Content-Type rule, UUID pipeline ids,
        an idempotency window (a repeat of a keyed create meanwhile gets 409), and Tapis
        children that fail once and succeed on retry. None of these changes an outcome, so a
        correct client gets the same report as with the defaults.

        Args:
            changes: fields to override on top of the profile.
        """
        profile: dict[str, Any] = dict(FAITHFUL_PROFILE)
        profile.update(changes)
        return cls(**profile)

    def evolve(self, **changes: Any) -> SimulatorConfig:
        """Return a copy with ``changes`` applied (validated like the constructor)."""
        return attrs.evolve(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The knobs as JSON-friendly values (sets become sorted lists)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(SimulatorConfig):
            value = getattr(self, field.name)
            if field.metadata.get("secret") and value is not None:
                out[field.name] = _mask(value)
            else:
                out[field.name] = sorted(value) if isinstance(value, frozenset) else value
        return out
