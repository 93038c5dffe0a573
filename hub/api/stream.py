"""``GET /api/stream``: the live changes for an open page, as server-sent events.

Events: ``alert`` (an alert changed state), ``reading`` (a sensor's newest value,
coalesced), ``door`` (a gate or door opened or closed), ``samples`` (a sample record
changed), ``reset`` (this page fell behind and was dropped: reload). A comment line
every ``KEEPALIVE_S`` keeps proxies and phones from closing an idle connection.

Streams are capped per account (429) and in total (503), both with ``Retry-After``:
a stream holds a connection for as long as the page is open, and one account's
thousand streams must not take the connections everyone else needs. ``StreamGate``
refuses what the caps would refuse anyway before routing and sign-in, so a thousand
reconnecting refused streams cost the hub little (see ``StreamSlots.refused_early``).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.deps import BroadcasterDep
from hub.auth.deps import SESSION_COOKIE, require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.web.broadcast import Broadcaster, LiveEvent, StreamSlots, async_wake

router = APIRouter(prefix="/api", tags=["stream"])

KEEPALIVE_S = 15.0
#: How soon a reconnecting browser tries again (EventSource ``retry``), in ms.
RETRY_MS = 3000
#: How long a refused stream is told to wait before trying again.
REFUSED_RETRY_AFTER_S = 30
PATH = "/api/stream"
#: Why a stream is refused -> its status: the account's own cap, or every slot of the hub taken.
_REFUSAL_STATUS = {"account": 429, "total": 503}


def credential_digest(headers: Headers, cookies: Mapping[str, str]) -> str | None:
    """A digest of the request's credential (API token or session cookie), to tell its streams apart."""
    secret = headers.get("authorization") or cookies.get(SESSION_COOKIE)
    return hashlib.blake2b(secret.encode(), digest_size=16).hexdigest() if secret else None


def _refusal_detail(reason: str, slots: StreamSlots) -> str:
    if reason == "account":
        return f"this account has {slots.per_account} live pages open already: close one · 此账号打开的实时页面过多"
    return f"the hub serves {slots.total} live pages already · 实时页面连接已满，请稍后再试"


class StreamGate:
    """Refuse a stream request the caps would refuse anyway, before routing, sign-in and the route.

    Only two cases are known without signing in: every slot is taken, or the request
    carries a credential that already holds its account's most streams. Anything else
    goes on to the route, which signs in and takes the slot.
    """

    def __init__(self, app: ASGIApp, slots: StreamSlots) -> None:
        self.app = app
        self.slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            connection = HTTPConnection(scope)
            reason = self.slots.refused_early(credential_digest(connection.headers, connection.cookies))
            if reason is not None:
                refusal = JSONResponse({"detail": _refusal_detail(reason, self.slots)}, _REFUSAL_STATUS[reason],
                                       headers={"Retry-After": str(REFUSED_RETRY_AFTER_S)})
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def events(broadcaster: Broadcaster, request: Request, keepalive_s: float = KEEPALIVE_S
                 ) -> AsyncIterator[bytes]:
    """The event stream of one page until it disconnects or falls behind."""
    ready = asyncio.Event()
    subscription = broadcaster.subscribe(async_wake(asyncio.get_running_loop(), ready))
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        while True:
            try:
                await asyncio.wait_for(ready.wait(), keepalive_s)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": keepalive\n\n"
                continue
            ready.clear()
            for event in subscription.drain():
                yield event.encode()
            if subscription.dropped:
                yield LiveEvent("reset", {"reason": "too slow"}).encode()
                return
    finally:
        broadcaster.unsubscribe(subscription)


class _SlotResponse(StreamingResponse):
    """A stream that gives its slot back however it ends: finished, disconnected, or never started."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def stream_slots(request: Request) -> StreamSlots:
    slots: StreamSlots = request.app.state.stream_slots
    return slots


@router.get("/stream", response_class=StreamingResponse,
            responses={429: {"description": "this account has its most live streams open"},
                       503: {"description": "the hub has its most live streams open"}})
async def stream(broadcaster: BroadcasterDep, request: Request, slots: Annotated[StreamSlots, Depends(stream_slots)],
                 user: Annotated[User, Depends(require(Permission.VIEW))]) -> StreamingResponse:
    credential = credential_digest(request.headers, request.cookies)
    refused = slots.acquire(user.id, credential)
    if refused is not None:
        raise HTTPException(status_code=_REFUSAL_STATUS[refused], detail=_refusal_detail(refused, slots),
                            headers={"Retry-After": str(REFUSED_RETRY_AFTER_S)})
    return _SlotResponse(events(broadcaster, request), lambda: slots.release(user.id, credential),
                         media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
