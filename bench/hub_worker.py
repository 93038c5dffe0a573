"""One hub worker for the benchmark, in its own process (so its CPU time is its own).

Settings come from ``XIAOAN_*`` like ``xiaoan hub``, minus the HTTP side: this is the
MQTT ingest → store → rules → alerts path only. The worker speaks JSON lines on stdout:
``{"ready": true, "pid": ...}`` once subscribed, ``{"c": counters, "t": time}`` every
``BENCH_REPORT_S`` seconds, and ``{"alert": subject, "state": ..., "t": time}`` for each
alert handed to the listeners (the stand-in for the notification channel). It stops
when its stdin closes or it receives SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from hub.runtime import Hub
from hub.settings import load_settings
from hub.store.state import Alert

#: The longest a worker runs, whatever happens to its parent (``BENCH_MAX_LIFETIME_S``: the soak's hour and more).
MAX_LIFETIME_S = 3600.0


def main() -> int:
    logging.basicConfig(level=logging.ERROR, format="hub worker %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    if "XIAOAN_DEVICE_RATE_PER_S" not in os.environ:
        # The load generator floods a few devices as fast as the broker takes it: the bench measures what
        # the hub can store, not the per-device rate limit (which a flood of four devices would hit).
        settings = settings.model_copy(update={"device_rate_per_s": 0.0})
    report_s = float(os.environ.get("BENCH_REPORT_S", "0.02"))
    out: queue.Queue[dict[str, Any]] = queue.Queue()
    stop = threading.Event()

    hub = Hub(settings)

    def on_alert(alert: Alert) -> None:
        out.put({"alert": alert.subject, "state": alert.state, "t": time.time()})

    hub.engine.add_listener(on_alert)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent went away or closed the pipe
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    hub.start()
    assert hub.mqtt is not None
    if not hub.mqtt.connected.wait(15):
        print(json.dumps({"error": "hub did not connect"}), flush=True)
        hub.stop()
        return 1
    time.sleep(0.2)  # the SUBACK follows the CONNACK; give it a moment before saying ready
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    deadline = time.monotonic() + float(os.environ.get("BENCH_MAX_LIFETIME_S", MAX_LIFETIME_S))
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(report_s)
        lines = []
        while True:
            try:
                lines.append(json.dumps(out.get_nowait()))
            except queue.Empty:
                break
        lines.append(json.dumps({"c": hub.pipeline.counters.snapshot(), "t": time.time()}))
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    hub.stop()
    print(json.dumps({"c": hub.pipeline.counters.snapshot(), "t": time.time(), "stopped": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
