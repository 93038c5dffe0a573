"""The admin's "send test message" button: one configured channel, the delivery result back."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from hub.api.deps import HubDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.notify.testmessage import send_test

router = APIRouter(prefix="/api", tags=["notifications"])


class TestMessageRequest(BaseModel):
    channel: str = Field(min_length=1, max_length=64, description="a channel name from the notify config")


@router.post("/notifications/test")
def test_message(hub: HubDep, user: Annotated[User, Depends(require(Permission.ADMIN))],
                 request: TestMessageRequest) -> dict[str, Any]:
    """Send a test message through one channel now and answer with its delivery result."""
    channel = hub.notifications.channels.get(request.channel)
    if channel is None:
        known = ", ".join(sorted(hub.notifications.channels)) or "none configured"
        raise HTTPException(status_code=422, detail={"field": "channel",
                                                     "message": f"no channel {request.channel!r} ({known})"})
    locale = "en" if user.locale == "en" else "zh"
    result = send_test(channel, user.display_name or user.username, locale=locale, log=hub.notifications.delivery_log)
    hub.state.append_audit(time.time(), user.username, "notify.test", f"channel/{request.channel}",
                           {"ok": result.ok, "error": result.error})
    return {"channel": request.channel, **dataclasses.asdict(result)}
