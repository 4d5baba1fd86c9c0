"""Credentials: ICA API keys, bearer JWTs and Basic auth; Tapis tokens; the JWTs we issue.

The "user" that owns per-user state (idempotency keys, Tapis tasks, batch owners) is derived
from the credential: an API key and every JWT issued from it map to the same user, so a client
switching from the key to a JWT keeps its idempotency keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Any, Literal

import attrs
import orjson

from ._config import SimulatorConfig
from ._problems import ProblemError, TapisError

__all__ = (
    "Identity",
    "JwtIssuer",
    "authenticate_ica",
    "authenticate_tapis",
    "authenticate_token_request",
    "tapis_tenant",
)

_NS = uuid.UUID("6f1f3c9e-4a41-5d37-9a53-3c1f0d1e7a10")
AuthKind = Literal["api_key", "jwt", "bearer", "basic", "tapis"]


@attrs.frozen
class Identity:
    """Who sent a request.

    Attributes:
        user_id: uuid string of the user (stable for a given credential).
        username: display/login name.
        email: the user's e-mail address.
        kind: how the request authenticated.
        credential: the raw credential, used only as the rate-limit key; never shown.
        from_api_key: the bearer JWT was issued from an API key (cannot be refreshed).
        expires_at: ``exp`` of a bearer JWT, if any.
    """

    user_id: str
    username: str
    email: str
    kind: AuthKind
    credential: str = attrs.field(repr=False)
    from_api_key: bool = False
    expires_at: float | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _user_for(label: str) -> tuple[str, str, str]:
    """(user_id, username, email) derived from a credential label, stable across runs."""
    user_id = str(uuid.uuid5(_NS, label))
    short = user_id[:8]
    return user_id, f"user-{short}", f"user-{short}@example.org"


def _decode_jwt(token: str) -> tuple[dict[str, Any], bytes, bytes] | None:
    """(payload, signing input, signature) of a JWT-shaped token, or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = orjson.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    return payload, f"{parts[0]}.{parts[1]}".encode(), signature


class JwtIssuer:
    """Makes and checks the HS256 JWTs of ``POST /api/tokens`` (secret derived from the seed)."""

    def __init__(self, seed: int) -> None:
        self._secret = hashlib.sha256(f"ica-simulator-{seed}".encode()).digest()

    def issue(self, identity: Identity, *, now: float, ttl: float, from_api_key: bool) -> str:
        """A signed JWT for ``identity`` that expires ``ttl`` seconds from ``now``."""
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "iss": "ica-simulator",
            "sub": identity.user_id,
            "preferred_username": identity.username,
            "email": identity.email,
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": str(uuid.uuid4()),
            # RFC 8176 authentication-method reference: tells a key-made JWT from a login one
            "amr": ["apikey"] if from_api_key else ["pwd"],
        }
        signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(payload))}"
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The payload of a JWT issued here (signature valid), else None."""
        decoded = _decode_jwt(token)
        if decoded is None:
            return None
        payload, signing_input, signature = decoded
        expected = hmac.new(self._secret, signing_input, hashlib.sha256).digest()
        return payload if hmac.compare_digest(expected, signature) else None


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, parameters={})


def _api_key_identity(key: str, config: SimulatorConfig) -> Identity:
    if config.api_keys is not None and key not in config.api_keys:
        raise _unauthorized("The API key is not valid")
    user_id, username, email = _user_for("apikey:" + key)
    return Identity(user_id, username, email, "api_key", key)


def _bearer_identity(
    token: str, config: SimulatorConfig, issuer: JwtIssuer, now: float
) -> Identity:
    ours = issuer.verify(token)
    if ours is None and config.bearer_tokens is not None and token not in config.bearer_tokens:
        raise _unauthorized("The bearer token is not valid")
    decoded = ours if ours is not None else (_decode_jwt(token) or (None,))[0]
    if isinstance(decoded, dict):
        exp = decoded.get("exp")
        if isinstance(exp, int | float) and exp <= now:
            raise _unauthorized("The JWT has expired")
        sub = decoded.get("sub")
        if ours is not None and isinstance(sub, str):
            return Identity(
                sub,
                str(decoded.get("preferred_username", sub)),
                str(decoded.get("email", f"{sub}@example.org")),
                "jwt",
                token,
                from_api_key="apikey" in (decoded.get("amr") or ()),
                expires_at=float(exp) if isinstance(exp, int | float) else None,
            )
        label = "sub:" + sub if isinstance(sub, str) else "bearer:" + token
        user_id, username, email = _user_for(label)
        return Identity(
            user_id,
            username,
            email,
            "jwt",
            token,
            expires_at=float(exp) if isinstance(exp, int | float) else None,
        )
    user_id, username, email = _user_for("bearer:" + token)
    return Identity(user_id, username, email, "bearer", token)


def _header(headers: Any, name: str) -> str:
    value = headers.get(name)
    return value.strip() if isinstance(value, str) else ""


def authenticate_ica(
    headers: Any, config: SimulatorConfig, issuer: JwtIssuer, now: float
) -> Identity:
    """The identity behind an ICA request (Bearer JWT preferred, else X-API-Key).

    Raises:
        ProblemError: 401 when no credential is given or it is not accepted/expired.
    """
    authorization = _header(headers, "Authorization")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if token:
            return _bearer_identity(token, config, issuer, now)
    key = _header(headers, "X-API-Key")
    if key:
        return _api_key_identity(key, config)
    raise _unauthorized("Authentication required: send X-API-Key or Authorization: Bearer <JWT>")


def authenticate_token_request(headers: Any, config: SimulatorConfig) -> Identity:
    """The identity asking ``POST /api/tokens``: X-API-Key or Basic (e-mail:password).

    Raises:
        ProblemError: 401 when neither is given or accepted.
    """
    key = _header(headers, "X-API-Key")
    if key:
        return _api_key_identity(key, config)
    authorization = _header(headers, "Authorization")
    if authorization.lower().startswith("basic "):
        try:
            pair = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _unauthorized("Malformed Basic credentials") from None
        email, sep, password = pair.partition(":")
        if not sep or not email or not password:
            raise _unauthorized("Malformed Basic credentials")
        if config.basic_credentials is not None and pair not in config.basic_credentials:
            raise _unauthorized("Invalid e-mail address or password")
        user_id, _username, _email = _user_for("basic:" + email.lower())
        return Identity(user_id, email.split("@", 1)[0], email, "basic", pair)
    raise _unauthorized("Authentication required: send X-API-Key or Basic credentials")


def authenticate_tapis(headers: Any, config: SimulatorConfig, now: float) -> Identity:
    """The Tapis user behind ``X-Tapis-Token`` (username from the JWT claims if present).

    Raises:
        TapisError: 401 with the JWT filter's bare text message.
    """
    token = _header(headers, "X-Tapis-Token")
    if not token:
        raise TapisError(
            401, "TAPIS_SECURITY_MISSING_JWT_INFO Missing JWT in the X-Tapis-Token header."
        )
    if config.tapis_tokens is not None and token not in config.tapis_tokens:
        raise TapisError(401, "TAPIS_SECURITY_JWT_INVALID The JWT in X-Tapis-Token is not valid.")
    decoded = _decode_jwt(token)
    claims = decoded[0] if decoded else {}
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp <= now:
        raise TapisError(401, "TAPIS_SECURITY_JWT_EXPIRED The JWT in X-Tapis-Token has expired.")
    username = claims.get("tapis/username") or claims.get("sub")
    if not isinstance(username, str) or not username:
        username = "user" + hashlib.sha256(token.encode()).hexdigest()[:8]
    tenant = claims.get("tapis/tenant_id")
    email = f"{username}@{tenant if isinstance(tenant, str) else 'dev'}.tapis.io"
    user_id, _u, _e = _user_for("tapis:" + username)
    return Identity(user_id, username, email, "tapis", token)


def tapis_tenant(identity: Identity) -> str:
    """The tenant of a Tapis identity (from its e-mail form)."""
    return identity.email.split("@", 1)[1].split(".", 1)[0]
