"""The components a route may depend on, one provider each, as ``Annotated`` dependencies.

Routes and pages name the narrow thing they use (``SamplesDep``, ``AlertsDep`` …), never
the process that holds them all, so a route's signature says what it touches and a test
can hand it just that. Where the components come from is decided here and only here:
each provider reads one component of the hub process the app was started with
(``app.state.hub``, composed in ``hub.runtime``); when the composition changes, only this
module follows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi import Path as PathParam

from hub.alerts.engine import AlertEngine
from hub.auth.links import AlarmLinks
from hub.auth.store import AccountStore
from hub.calibration.service import CalibrationService
from hub.checks.service import ChecksService
from hub.enrolment import DeviceEnrolment
from hub.gate.monitor import GateMonitor
from hub.health import Vitals
from hub.notify.base import Channel
from hub.notify.component import Notifications
from hub.notify.deliverylog import DeliveryLog
from hub.notify.local import WebChannel
from hub.notify.managed import NotifySettings
from hub.report.service import ReportService
from hub.samples.monitor import SampleMonitor
from hub.settings import HubSettings
from hub.setup.service import SchoolSetup
from hub.store.base import SeriesStore
from hub.store.state import StateStore
from hub.visitors.service import VisitorBook
from hub.web import photos
from hub.web.broadcast import Broadcaster
from hub.web.live import LiveFeed

#: The largest integer SQLite keeps (64-bit signed). A larger id names no row, and the
#: database will not even look for it (OverflowError), so it is refused as a 422 instead.
MAX_ID = 2**63 - 1

#: A row id in a URL (an alert, a sample record, a token …).
RowId = Annotated[int, PathParam(ge=0, le=MAX_ID)]


def _part(request: Request, name: str) -> Any:
    """One component of the process this app serves: the single place that knows where they live.

    The dependencies below are ``async`` although they only read ``app.state``: FastAPI
    runs a plain ``def`` dependency in its thread pool, one thread hand-off per
    dependency per request, which under a flood of requests cost more than the routes.
    ``pipeline_status`` counts rows in SQLite, so it stays in the pool.
    """
    return getattr(request.app.state.hub, name)


async def settings(request: Request) -> HubSettings:
    found: HubSettings = _part(request, "settings")
    return found


async def timezone(request: Request) -> ZoneInfo:
    """The school's time zone: local days, weeks and report periods are reckoned in it."""
    found: ZoneInfo = _part(request, "tz")
    return found


async def state_store(request: Request) -> StateStore:
    found: StateStore = _part(request, "state")
    return found


async def series_store(request: Request) -> SeriesStore:
    found: SeriesStore = _part(request, "series")
    return found


async def alert_engine(request: Request) -> AlertEngine:
    found: AlertEngine = _part(request, "engine")
    return found


async def sample_monitor(request: Request) -> SampleMonitor:
    found: SampleMonitor = _part(request, "samples")
    return found


async def checks_service(request: Request) -> ChecksService:
    """Checklists and work orders."""
    found: ChecksService = _part(request, "checks")
    return found


async def calibration(request: Request) -> CalibrationService:
    """Probe calibration: checks, certificates, offsets sent to the nodes."""
    found: CalibrationService = _part(request, "calibration")
    return found


async def visitor_book(request: Request) -> VisitorBook:
    """The gate register: visitors, invitations, leave slips."""
    found: VisitorBook = _part(request, "visitors")
    return found


async def gate_monitor(request: Request) -> GateMonitor:
    found: GateMonitor = _part(request, "gate")
    return found


async def report_service(request: Request) -> ReportService:
    found: ReportService = _part(request, "reports")
    return found


async def account_store(request: Request) -> AccountStore:
    found: AccountStore = _part(request, "accounts")
    return found


def _notifications(request: Request) -> Notifications:
    found: Notifications = _part(request, "notifications")
    return found


async def notifications(request: Request) -> Notifications:
    return _notifications(request)


async def web_notices(request: Request) -> WebChannel:
    """The web page's own notification channel (its recent notices)."""
    return _notifications(request).web_notices


async def delivery_log(request: Request) -> DeliveryLog | None:
    """Every delivery attempt; None on a hub configured without notification channels."""
    return _notifications(request).delivery_log


async def notify_channels(request: Request) -> dict[str, Channel]:
    """The built notification channels by name (none without a notify config)."""
    return _notifications(request).channels


async def notify_settings(request: Request) -> NotifySettings:
    """The versioned channels and routes (the admin page changes them; the running hub follows)."""
    found: NotifySettings = _part(request, "notify_settings")
    return found


async def vitals(request: Request) -> Vitals:
    """The running hub's parts that health and metrics read (broker link, counters, duties, channels)."""
    found: Vitals = _part(request, "vitals")
    return found


async def broadcaster(request: Request) -> Broadcaster:
    found: Broadcaster = _part(request, "broadcaster")
    return found


async def live_feed(request: Request) -> LiveFeed:
    """What the open pages are told: a route that changes what they show says so here."""
    found: LiveFeed = _part(request, "live")
    return found


async def enrolment(request: Request) -> DeviceEnrolment:
    """Devices added, replaced and revoked from the admin page."""
    found: DeviceEnrolment = _part(request, "enrolment")
    return found


async def school_setup(request: Request) -> SchoolSetup:
    """Sensors named and assigned, terms, holidays and door groups from the admin page (versioned)."""
    found: SchoolSetup = _part(request, "setup")
    return found


async def alarm_links(request: Request) -> AlarmLinks:
    """One-tap links in alarm messages and the alarm-scoped sessions they open."""
    found: AlarmLinks = _part(request, "links")
    return found


async def photo_root(request: Request) -> Path:
    """Where the photos of corrective actions are kept (under the hub's state directory)."""
    return photos.directory(_part(request, "settings").db_dir)


@dataclass(frozen=True)
class PipelineStatus:
    """What the safety officer's page shows of the hub itself: the broker link, uptime, the ingest counters."""

    mqtt_connected: bool | None
    started_at: float
    counters: dict[str, Any]
    dead_letters: int

    def uptime_s(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.started_at


def pipeline_status(request: Request) -> PipelineStatus:
    """A snapshot of the ingest pipeline's state, taken once per request."""
    found: Vitals = _part(request, "vitals")
    return PipelineStatus(mqtt_connected=found.mqtt_connected(), started_at=found.started_at,
                          counters=found.counters.snapshot(), dead_letters=found.record.dead_letter_count())


SettingsDep = Annotated[HubSettings, Depends(settings)]
TzDep = Annotated[ZoneInfo, Depends(timezone)]
StateDep = Annotated[StateStore, Depends(state_store)]
SeriesDep = Annotated[SeriesStore, Depends(series_store)]
AlertsDep = Annotated[AlertEngine, Depends(alert_engine)]
SamplesDep = Annotated[SampleMonitor, Depends(sample_monitor)]
ChecksDep = Annotated[ChecksService, Depends(checks_service)]
CalibrationDep = Annotated[CalibrationService, Depends(calibration)]
GateDep = Annotated[GateMonitor, Depends(gate_monitor)]
VisitorsDep = Annotated[VisitorBook, Depends(visitor_book)]
ReportsDep = Annotated[ReportService, Depends(report_service)]
AccountsDep = Annotated[AccountStore, Depends(account_store)]
WebNoticesDep = Annotated[WebChannel, Depends(web_notices)]
DeliveryLogDep = Annotated[DeliveryLog | None, Depends(delivery_log)]
ChannelsDep = Annotated[dict[str, Channel], Depends(notify_channels)]
NotifySettingsDep = Annotated[NotifySettings, Depends(notify_settings)]
BroadcasterDep = Annotated[Broadcaster, Depends(broadcaster)]
LiveDep = Annotated[LiveFeed, Depends(live_feed)]
EnrolmentDep = Annotated[DeviceEnrolment, Depends(enrolment)]
SchoolSetupDep = Annotated[SchoolSetup, Depends(school_setup)]
PhotoRootDep = Annotated[Path, Depends(photo_root)]
LinksDep = Annotated[AlarmLinks, Depends(alarm_links)]
PipelineStatusDep = Annotated[PipelineStatus, Depends(pipeline_status)]
VitalsDep = Annotated[Vitals, Depends(vitals)]

