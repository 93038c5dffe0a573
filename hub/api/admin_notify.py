"""The admin's "send test message" button: one configured channel, the delivery result back."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from hub.api.deps import ChannelsDep, DeliveryLogDep, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.errors import FieldError
from hub.notify.testmessage import send_test

router = APIRouter(prefix="/api", tags=["notifications"])


class TestMessageRequest(BaseModel):
    channel: str = Field(min_length=1, max_length=64, description="a channel name from the notify config")


class TestMessagePublic(BaseModel):
    """The channel's delivery result (``hub.notify.base.DeliveryResult``), with the channel's name."""

    channel: str
    ok: bool
    error: str
    latency_s: float


@router.post("/notifications/test")
def test_message(channels: ChannelsDep, log: DeliveryLogDep, store: StateDep,
                 user: Annotated[User, Depends(require(Permission.ADMIN))],
                 request: TestMessageRequest) -> TestMessagePublic:
    """Send a test message through one channel now and answer with its delivery result."""
    channel = channels.get(request.channel)
    if channel is None:
        known = ", ".join(sorted(channels)) or "none configured"
        raise FieldError("channel", f"no channel {request.channel!r} ({known})")
    locale = "en" if user.locale == "en" else "zh"
    result = send_test(channel, user.display_name or user.username, locale=locale, log=log)
    store.append_audit(time.time(), user.username, "notify.test", f"channel/{request.channel}",
                       {"ok": result.ok, "error": result.error})
    return TestMessagePublic(channel=request.channel, ok=result.ok, error=result.error, latency_s=result.latency_s)
