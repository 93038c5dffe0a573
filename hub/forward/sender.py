"""Send the outbox to the district: oldest first, a batch at a time, deleted only after the district's confirmation.

A failed send (no network, a worker down, a 5xx) moves on to the next of the
district's addresses and waits before trying again, doubling the wait up to a bound;
the first success resets it. The district answers 200 only after its commit, so a
batch whose answer was lost is sent again and the district finds every record of it
already stored (``duplicates``) — nothing is lost, nothing stored twice. A batch
refused for its content (422) is halved until the one refused record is found and
parked (``ForwardOutbox.park``); the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import ValidationError

from hub.district.wire import RECORDS_PATH, SITE_HEADER, BatchStored, ForwardBatch
from hub.forward.outbox import ForwardOutbox, Waiting

_LOGGER = logging.getLogger(__name__)
#: Batches sent per tick, at most: a drain after an outage gives the other duties their turn.
BATCHES_PER_TICK = 20


class SendFailed(Exception):
    """The district did not confirm the batch; it stays in the outbox."""


class Refused(SendFailed):
    """The district refused the batch for its content (413, 422): sent again as it is, it would be refused again."""


class CredentialsRefused(SendFailed):
    """The district does not take the school's token (401, 403): revoked, or mistyped. Retried, and alarmed on."""


#: The district's answers that refuse the content, not the moment.
_REFUSALS = {413, 422}


class Transport(Protocol):
    def send(self, batch: ForwardBatch) -> BatchStored: ...

    def close(self) -> None: ...


class HttpTransport:
    """The district's workers over HTTP(S), tried in turn; authenticated as the school by its token."""

    def __init__(self, urls: tuple[str, ...], site: str, token: str, timeout_s: float) -> None:
        self._urls = urls
        self._next = 0
        self._client = httpx.Client(timeout=timeout_s, headers={SITE_HEADER: site,
                                                                "Authorization": f"Bearer {token}"})

    def send(self, batch: ForwardBatch) -> BatchStored:
        url = self._urls[self._next].rstrip("/") + RECORDS_PATH
        try:
            response = self._client.post(url, content=batch.model_dump_json(),
                                         headers={"Content-Type": "application/json"})
        except httpx.HTTPError as error:
            self._next = (self._next + 1) % len(self._urls)
            raise SendFailed(f"{url}: {error!r}") from error
        if response.status_code in _REFUSALS:
            raise Refused(f"{url}: HTTP {response.status_code} {response.text[:300]!r}")
        if response.status_code in (401, 403):
            self._next = (self._next + 1) % len(self._urls)
            raise CredentialsRefused(f"{url}: HTTP {response.status_code}, the school's token is not accepted")
        if response.status_code != 200:
            self._next = (self._next + 1) % len(self._urls)
            raise SendFailed(f"{url}: HTTP {response.status_code} {response.text[:200]!r}")
        try:
            return BatchStored.model_validate_json(response.content)
        except ValidationError as error:
            # A 200 that is not the district's confirmation (a proxy's login or error page): not confirmed, so
            # the batch stays, and the link backs off like any failure instead of raising out of the duty.
            self._next = (self._next + 1) % len(self._urls)
            raise SendFailed(f"{url}: HTTP 200 but not a confirmation: {response.text[:200]!r}") from error

    def close(self) -> None:
        self._client.close()


@dataclass
class ForwardCounters:
    sent_batches: int = 0
    sent_records: int = 0
    duplicates: int = 0
    failures: int = 0
    parked: int = 0
    last_confirmed: float | None = None
    last_error: str | None = None
    #: When the current run of failed sends began (None: the last send went through, or none failed yet).
    failing_since: float | None = None
    #: The last failure was the district refusing the school's token.
    credentials_refused: bool = False


def link_down(counters: ForwardCounters, now: float, alarm_after_s: float) -> bool:
    """Is the link worth an alarm: failing for ``alarm_after_s``, or refusing the school's token at all."""
    if counters.failing_since is None:
        return False
    return counters.credentials_refused or now - counters.failing_since >= alarm_after_s


class Forwarder:
    """The outbox → the district, on the hub's scheduler (``tick``)."""

    def __init__(self, outbox: ForwardOutbox, transport: Transport, batch: int, retry_min_s: float,
                 retry_max_s: float, clock: Callable[[], float] = time.time) -> None:
        self.outbox, self.transport, self.batch = outbox, transport, batch
        self.retry_min_s, self.retry_max_s, self.clock = retry_min_s, retry_max_s, clock
        self.counters = ForwardCounters()
        self._wait_s = 0.0
        self._not_before = 0.0
        #: Records per batch now: halved while the district refuses a batch, to find the record it refuses.
        self._limit = batch
        self._lock = threading.Lock()  # one send at a time, whoever calls tick

    def tick(self, now: float) -> None:
        with self._lock:
            if now < self._not_before:
                return
            for _ in range(BATCHES_PER_TICK):
                waiting = self.outbox.head(self._limit)
                if not waiting:
                    return
                try:
                    stored = self.transport.send(ForwardBatch(records=tuple(w.record for w in waiting)))
                except Refused as error:
                    self._refused(waiting, str(error))
                    continue
                except SendFailed as error:
                    self._failed(str(error), isinstance(error, CredentialsRefused))
                    return
                self.outbox.confirmed([w.id for w in waiting])
                self._limit = min(self.batch, self._limit * 2)
                self._wait_s = 0.0
                c = self.counters
                c.sent_batches += 1
                c.sent_records += stored.stored
                c.duplicates += stored.duplicates
                c.last_confirmed = self.clock()
                c.failing_since, c.credentials_refused = None, False

    def _refused(self, waiting: list[Waiting], reason: str) -> None:
        """Halve the batch until the refused record is alone, then park it: the rest go on."""
        if len(waiting) > 1:
            self._limit = max(1, len(waiting) // 2)
            return
        self.outbox.park(waiting[0], reason, self.clock())
        self.counters.parked += 1
        _LOGGER.error("the district refused record %s %s (%s): set aside in the outbox's parked records",
                      waiting[0].record.kind.value, waiting[0].record.key, reason)

    def _failed(self, reason: str, credentials: bool) -> None:
        now = self.clock()
        self._wait_s = min(self.retry_max_s, max(self.retry_min_s, self._wait_s * 2))
        self._not_before = now + self._wait_s
        self.counters.failures += 1
        self.counters.credentials_refused = credentials
        if self.counters.failing_since is None:
            self.counters.failing_since = now
        if self.counters.last_error != reason:
            _LOGGER.warning("forwarding to the district failed (%s); the records stay in the outbox, next try in"
                            " %.0f s", reason, self._wait_s)
        self.counters.last_error = reason
