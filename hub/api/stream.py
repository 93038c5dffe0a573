"""``GET /api/stream``: the live changes for an open page, as server-sent events.

Events: ``alert`` (an alert changed state), ``reading`` (a sensor's newest value,
coalesced), ``door`` (a gate or door opened or closed), ``samples`` (a sample record
changed), ``reset`` (this page fell behind and was dropped: reload). A comment line
every ``KEEPALIVE_S`` keeps proxies and phones from closing an idle connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from hub.api.deps import BroadcasterDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.web.broadcast import Broadcaster, LiveEvent, async_wake

router = APIRouter(prefix="/api", tags=["stream"])

KEEPALIVE_S = 15.0
#: How soon a reconnecting browser tries again (EventSource ``retry``), in ms.
RETRY_MS = 3000


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


@router.get("/stream", response_class=StreamingResponse)
async def stream(broadcaster: BroadcasterDep, request: Request,
                 _user: Annotated[User, Depends(require(Permission.VIEW))]) -> StreamingResponse:
    return StreamingResponse(events(broadcaster, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
