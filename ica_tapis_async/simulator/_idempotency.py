"""The Idempotency-Key store of ICA creates (API-NOTES B5, analysis-creation seed).

Per (endpoint, key, user): the first request is marked in progress; a success (< 400) is stored
for the TTL and replayed for the same body; a repeat while the first runs gets 409, a repeat with
another body 422; an error answer is not stored, so the key may be retried.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
import orjson

from ._problems import ProblemError

__all__ = ("IdempotencyStore", "StoredResponse", "body_fingerprint")

MAX_KEY_LENGTH = 255


def body_fingerprint(body: Any) -> str:
    """Hash of the decoded body with sorted keys: key order and whitespace do not matter."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@attrs.frozen
class StoredResponse:
    """A stored successful answer."""

    status: int
    body: bytes
    content_type: str


@attrs.define
class _Entry:
    fingerprint: str
    expires: float
    response: StoredResponse | None = None  # None while the first request is being processed


class IdempotencyStore:
    """In-memory store on the simulated clock."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], _Entry] = {}

    @staticmethod
    def check_key(key: str) -> None:
        """Reject keys the API does not accept.

        Raises:
            ProblemError: 400 for a key longer than 255 characters or blank.
        """
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise ProblemError(
                400,
                f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters long",
                parameters={"Idempotency-Key": f"length {len(key)}"},
            )

    def begin(
        self, endpoint: str, key: str, user: str, fingerprint: str, *, now: float, ttl: float
    ) -> StoredResponse | None:
        """Start a request: the stored answer to replay, or None when it must be processed.

        Raises:
            ProblemError: 422 when the key was used with another body, 409 while the first
                request with this key is still being processed.
        """
        slot = (endpoint, key, user)
        entry = self._entries.get(slot)
        if entry is not None and entry.expires <= now:
            del self._entries[slot]
            entry = None
        if entry is None:
            self._entries[slot] = _Entry(fingerprint, now + ttl)
            return None
        if entry.fingerprint != fingerprint:
            raise ProblemError(
                422,
                "The Idempotency-Key was already used for a request with a different body",
                parameters={"Idempotency-Key": key},
            )
        if entry.response is None:
            raise ProblemError(
                409,
                "A request with this Idempotency-Key is still being processed",
                parameters={"Idempotency-Key": key},
            )
        return entry.response

    def finish(
        self,
        endpoint: str,
        key: str,
        user: str,
        response: StoredResponse | None,
        *,
        now: float,
        ttl: float,
    ) -> None:
        """End a request: store a success for ``ttl``; forget the key after an error (None)."""
        slot = (endpoint, key, user)
        if response is None or response.status >= 400:
            self._entries.pop(slot, None)
            return
        entry = self._entries.get(slot)
        if entry is not None:
            entry.response = response
            entry.expires = now + ttl

    def __len__(self) -> int:
        return len(self._entries)
