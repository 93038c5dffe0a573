"""What was sent to whom: the web channel's recent notices and every delivery attempt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from hub.api.deps import DeliveryLogDep, WebNoticesDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.notify.base import Notification
from hub.notify.deliverylog import DeliveryAttempt

router = APIRouter(prefix="/api", tags=["notifications"], dependencies=[Depends(require(Permission.VIEW))])

#: A notice as the page shows it: the notification itself (``hub.notify.base.Notification``).
NotificationPublic = Notification
#: One try of one channel, as logged (``hub.notify.deliverylog.DeliveryAttempt``).
DeliveryAttemptPublic = DeliveryAttempt


@router.get("/notifications")
def notifications(notices: WebNoticesDep) -> list[NotificationPublic]:
    """Recent notifications for the web page, newest first."""
    return notices.recent()


@router.get("/notifications/attempts")
def attempts(log: DeliveryLogDep, alert_id: Annotated[int | None, Query(ge=1)] = None,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[DeliveryAttemptPublic]:
    """Every delivery attempt with its outcome (sent, failed, deferred, …); empty without channels."""
    if log is None:
        return []
    return log.attempts(alert_id=alert_id, limit=limit)
