"""API keys (hashed at rest), signed end-user tokens, and the principal a request acts as."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import api_keys

Role = Literal["customer", "agent", "engineer", "admin"]
ROLES: tuple[Role, ...] = ("customer", "agent", "engineer", "admin")
TOKEN_AUDIENCE = "supportflow-widget"  # noqa: S105 - a JWT audience name, not a secret
MAX_TOKEN_TTL_S = 3600
_CACHE_TTL_S = 30.0


class AuthError(Exception):
    """Missing or invalid credentials (401) or a role that may not do this (403)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the role, the tenant, and for customers the verified customer id."""

    role: Role
    tenant: str
    key_id: str
    customer_id: str | None = None


def hash_key(key: str) -> str:
    """Keys are 256-bit random strings, so a fast unsalted hash is safe and lets us index it."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(role: Role) -> str:
    """``sfp_`` marks a publishable (widget) key, ``sfk_`` a secret one."""
    prefix = "sfp" if role == "customer" else "sfk"
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def demo_publishable_key(secret: str) -> str:
    """A stable publishable key for the demo page, derived so it never needs storing in clear."""
    digest = hmac.new(secret.encode(), b"demo-publishable-key", hashlib.sha256).hexdigest()
    return f"sfp_demo_{digest[:40]}"


class KeyStore:
    """Creates and verifies API keys; verified keys are cached briefly in process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def create(self, role: Role, tenant: str, name: str = "", key: str | None = None) -> str:
        """Store a new key's hash and return the key (shown once)."""
        plaintext = key or new_key(role)
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    key_id=secrets.token_hex(8),
                    key_hash=hash_key(plaintext),
                    role=role,
                    tenant=tenant,
                    name=name,
                )
            )
        return plaintext

    async def ensure(self, key: str, role: Role, tenant: str, name: str) -> None:
        """Create ``key`` unless it already exists (for derived demo keys)."""
        if await self._lookup(key) is None:
            await self.create(role, tenant, name, key=key)

    async def verify(self, key: str) -> Principal | None:
        """The key's principal, or ``None`` for an unknown or revoked key."""
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached and now - cached[0] < _CACHE_TTL_S:
            return cached[1]
        principal = await self._lookup(key)
        self._cache[key] = (now, principal)
        return principal

    async def _lookup(self, key: str) -> Principal | None:
        query = select(api_keys).where(api_keys.c.key_hash == hash_key(key))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None or row["revoked"]:
            return None
        return Principal(role=row["role"], tenant=row["tenant"], key_id=row["key_id"])


def mint_end_user_token(secret: str, tenant: str, customer_id: str, ttl_s: int = 900) -> str:
    """A short-lived HS256 token binding tenant and customer, minted by the store's backend."""
    now = int(time.time())
    claims = {
        "sub": customer_id,
        "tenant": tenant,
        "aud": TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + min(ttl_s, MAX_TOKEN_TTL_S),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_end_user_token(secret: str, token: str, tenant: str) -> str:
    """The customer id in a valid token for ``tenant``; raises ``AuthError`` otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=TOKEN_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError(401, "token_expired", "end-user token expired; mint a new one") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(401, "token_invalid", "end-user token is invalid") from exc
    if claims.get("tenant") != tenant:
        raise AuthError(403, "tenant_mismatch", "token was minted for another tenant")
    return str(claims["sub"])
