"""ICA content negotiation: versions travel in the media types.

The rules (API-NOTES B4/C): Content-Type must be a body type the operation offers (else 415);
Accept must name a response type it offers, directly or through ``*/*``/``application/*``, with
q-values honoured; Content-Type and Accept must carry the same version. A missing or wrong Accept
gets what the real service sends (API-NOTES C, observed by libica's maintainers): 400 ICA_API_004
"Invalid Accept Header", never 406. The response's Content-Type is the negotiated type.
"""

from __future__ import annotations

import attrs

from ._problems import ProblemError

__all__ = ("JSON", "MediaSpec", "V3", "V4", "negotiate", "version_of")

V4 = "application/vnd.illumina.v4+json"
V3 = "application/vnd.illumina.v3+json"
JSON = "application/json"
ACCEPT_CODE = "ICA_API_004"


@attrs.frozen
class MediaSpec:
    """The media types of one operation, in the server's order of preference.

    Attributes:
        responses: types the success answer can take.
        bodies: types accepted for the request body; empty when the operation has no body.
    """

    responses: tuple[str, ...]
    bodies: tuple[str, ...] = ()


def version_of(media_type: str) -> str | None:
    """``"v4"`` for ``application/vnd.illumina.v4+json``; None for unversioned types."""
    if media_type.startswith("application/vnd.illumina.") and media_type.endswith("+json"):
        return media_type[len("application/vnd.illumina.") : -len("+json")]
    return None


def _bare(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def _parse_accept(header: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in header.split(","):
        if not part.strip():
            continue
        pieces = part.split(";")
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        ranges.append((pieces[0].strip().lower(), q))
    return ranges


def _quality(offered: str, ranges: list[tuple[str, float]]) -> float:
    """The q of the most specific range matching ``offered`` (RFC 9110 12.5.1)."""
    kind = offered.split("/", 1)[0] + "/*"
    best: tuple[int, float] | None = None
    for media_range, q in ranges:
        if media_range == offered:
            rank = 2
        elif media_range == kind:
            rank = 1
        elif media_range == "*/*":
            rank = 0
        else:
            continue
        if best is None or rank > best[0] or (rank == best[0] and q > best[1]):
            best = (rank, q)
    return 0.0 if best is None else best[1]


def _invalid_accept(detail: str) -> ProblemError:
    return ProblemError(400, detail, title=ACCEPT_CODE, parameters={})


def negotiate(
    spec: MediaSpec,
    *,
    accept: str | None,
    content_type: str | None,
    is_get: bool,
    strict_accept: bool = True,
    v4_get_needs_content_type: bool = False,
) -> str:
    """Pick the response media type of one request, or raise the Problem ICA would send.

    Raises:
        ProblemError: 415 (Content-Type not offered), 400 ICA_API_004 (missing Accept, no
            acceptable response type, or Accept and Content-Type versions differ).
    """
    body_version: str | None = None
    if spec.bodies:
        ct = _bare(content_type or "")
        if ct not in spec.bodies:
            raise ProblemError(
                415,
                f"Content type '{ct or '(none)'}' is not supported; "
                f"use one of {', '.join(spec.bodies)}",
                parameters={"Content-Type": ct},
            )
        body_version = version_of(ct)
    elif content_type:
        # GETs carry no body, but ICA still wants a versioned Content-Type to match Accept
        body_version = version_of(_bare(content_type))

    if accept is None or not accept.strip():
        if strict_accept:
            raise _invalid_accept("Invalid Accept Header")
        accept = "*/*"
    ranges = _parse_accept(accept)
    acceptable = [(t, q) for t, q in ((t, _quality(t, ranges)) for t in spec.responses) if q > 0]
    named_versions = {version_of(r) for r, q in ranges if q > 0} - {None}

    if body_version is not None and body_version in {version_of(t) for t in spec.responses}:
        same = [(t, q) for t, q in acceptable if version_of(t) in (body_version, None)]
        if not same:
            if acceptable or named_versions:
                raise _invalid_accept(
                    "Invalid Accept Header: Content-Type and Accept must name the same version"
                )
            raise _invalid_accept(f"Invalid Accept Header: cannot produce any of {accept}")
        acceptable = same
    if not acceptable:
        raise _invalid_accept(
            f"Invalid Accept Header: cannot produce any of {accept}; "
            f"available: {', '.join(spec.responses)}"
        )
    # highest q wins; ties go to the server's order of preference (stable sort)
    chosen = max(acceptable, key=lambda pair: pair[1])[0]
    if is_get and v4_get_needs_content_type and version_of(chosen) == "v4" and body_version != "v4":
        raise _invalid_accept("Invalid Accept Header: v4 needs a v4 Content-Type as well")
    return chosen
