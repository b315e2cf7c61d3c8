"""Request dependencies: app resources from the lifespan state, and the caller's principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agent.evals.online import RollingScore
from agent.services import Services
from agent.settings import Settings
from api.auth import AuthError, KeyStore, Principal, Role, verify_end_user_token
from api.flags import FlagCache
from api.handoffs import HandoffStore
from api.ingest_jobs import IngestJobs
from api.ratelimit import RateLimiter
from api.runs import RunManager
from api.threads import ThreadStore


@dataclass(frozen=True, slots=True)
class AppResources:
    """What the lifespan opened; handlers read it from ``request.state``."""

    settings: Settings
    services: Services
    runs: RunManager
    keys: KeyStore
    threads: ThreadStore
    token_secret: str
    demo_key: str | None
    handoffs: HandoffStore
    limiter: RateLimiter
    ingest: IngestJobs
    flags: FlagCache
    quality: RollingScore


def resources(request: Request) -> AppResources:
    """The app's resources for this request."""
    found: AppResources = request.state.sf
    return found


ResourcesDep = Annotated[AppResources, Depends(resources)]


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """(api_key, end_user_token) from ``x-api-key`` and ``Authorization: Bearer``."""
    key = request.headers.get("x-api-key")
    token = None
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        if value.startswith(("sfk_", "sfp_")) and key is None:
            key = value
        else:
            token = value
    return key, token


async def principal(request: Request, res: ResourcesDep) -> Principal:
    """Authenticate the API key; a customer key may carry a signed end-user token."""
    key, token = _credentials(request)
    if not key:
        raise AuthError(401, "missing_credentials", "send an API key in the x-api-key header")
    found = await res.keys.verify(key)
    if found is None:
        raise AuthError(401, "invalid_api_key", "the API key is unknown or revoked")
    if found.role == "customer" and token:
        customer = verify_end_user_token(res.token_secret, token, found.tenant)
        found = Principal(found.role, found.tenant, found.key_id, customer_id=customer)
    identities = {"key": found.key_id, "ip": request.client.host if request.client else "unknown"}
    if found.customer_id:
        identities["customer"] = f"{found.tenant}:{found.customer_id}"
    await res.limiter.check(identities)
    return found


PrincipalDep = Annotated[Principal, Depends(principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: the principal must hold one of ``roles``."""

    async def check(who: PrincipalDep) -> Principal:
        if who.role not in roles:
            raise AuthError(403, "forbidden", f"this route needs role {' or '.join(roles)}")
        return who

    return check


CustomerDep = Annotated[Principal, Depends(require("customer"))]
StaffDep = Annotated[Principal, Depends(require("agent", "engineer", "admin"))]
AgentDep = Annotated[Principal, Depends(require("agent", "admin"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]
EngineerDep = Annotated[Principal, Depends(require("engineer", "admin"))]
