"""The district link as one component of the hub: its outbox, its sender, its listeners on what the hub stores.

Built only when the ``district`` settings slice enables it (off by default), so a
school without a district runs exactly as before. The ingest calls ``on_stored``
with each batch's new readings and events after writing them and before committing
their message ids as seen (``IngestPipeline.add_durable_listener``): a crash between
the two makes the edge send again and the hub store and put them again, so the
outbox misses nothing. The engine calls ``on_alert`` after each change of an alarm
is saved; ``tick`` is a duty on the hub's scheduler.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hub.forward.outbox import ForwardOutbox
from hub.forward.records import alarm_record, event_record, reading_record
from hub.forward.sender import Forwarder, HttpTransport, Transport
from hub.forward.settings import DistrictLink
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import Alert

_LOGGER = logging.getLogger(__name__)
#: The outbox's file in the hub's database directory.
OUTBOX_FILE = "district-outbox.sqlite3"


class DistrictForward:
    def __init__(self, link: DistrictLink, db_dir: Path, transport: Transport | None = None) -> None:
        self.link = link
        self.outbox = ForwardOutbox(db_dir / OUTBOX_FILE)
        self.transport = transport or HttpTransport(link.urls, link.site, link.secret(), link.timeout_s)
        self.forwarder = Forwarder(self.outbox, self.transport, link.batch, link.retry_min_s, link.retry_max_s)

    def on_stored(self, readings: list[StoredReading], events: list[StoredEvent]) -> None:
        """A batch the hub stored, before it is committed as seen: a failure here fails the batch, so it is retried."""
        records = [reading_record(r) for r in readings] if self.link.readings else []
        self.outbox.put(records + [event_record(e) for e in events])

    def on_alert(self, alert: Alert) -> None:
        record = alarm_record(alert)
        if record is not None:
            self.outbox.put([record])

    def tick(self, now: float) -> None:
        self.forwarder.tick(now)

    def close(self) -> None:
        self.transport.close()
        self.outbox.close()
