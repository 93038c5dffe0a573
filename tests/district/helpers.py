"""District workers as real processes (to be SIGKILLed), and a school's WAN link to the district that can be cut."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from hub.broker import free_port
from hub.district.store import DistrictStore
from hub.district.wire import BatchStored, ForwardBatch, ForwardedRecord, RecordKind

ROOT = Path(__file__).resolve().parents[2]
#: How long a worker may take to answer after its start: generous, a loaded CI machine is slow to start Python.
START_TIMEOUT_S = 180.0


class DistrictProcess:
    """``python -m hub.district serve`` on a free loopback port; ``kill()`` is a SIGKILL, ``start()`` again restarts."""

    def __init__(self, dsn: str, worker: str, log_dir: Path, port: int | None = None) -> None:
        self.dsn, self.worker = dsn, worker
        self.port = port or free_port()
        self.log = log_dir / f"district-{worker}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DistrictProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "XIAOAN_DISTRICT_LEADER_POLL_S": "0.2",
               "XIAOAN_DISTRICT_JOBS_POLL_S": "0.2"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.district", "--dsn", self.dsn, "serve", "--port", str(self.port),
                 "--worker", self.worker], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"district worker {self.worker} exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/district/v1/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"district worker {self.worker} did not answer: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Relay:
    """A TCP relay to one address that can be cut (listener closed, open connections reset) and restored.

    Stands for a school's WAN link: while cut, the school's hub cannot reach the district.
    """

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port = host, target_port
        self.port = free_port(host)
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def restore(self) -> None:
        listener = socket.create_server((self.host, self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class StoreTransport:
    """The district's own store behind a school's link (the HTTP route is tested in test_api): a real commit a batch."""

    def __init__(self, store: DistrictStore, site: str) -> None:
        self.store, self.site = store, site

    def send(self, batch: ForwardBatch) -> BatchStored:
        stored = self.store.store(self.site, batch.records)
        return BatchStored(stored=stored.stored, duplicates=stored.duplicates)

    def close(self) -> None:
        pass


def two_schools_one_hot_fridge(store: DistrictStore, school_b: str, message: str) -> None:
    """School A quiet and never heard from; school B (named ``school_b``) with a fridge alarm firing (``message``)."""
    store.add_site("school-a", "第一小学")
    store.add_site("school-b", school_b)
    store.store("school-b", (ForwardedRecord(kind=RecordKind.ALARM, key="1/firing/1800000000.0", ts=1_800_000_000.0,
                                             body={"id": 1, "state": "firing", "updated_at": 1_800_000_000.0,
                                                   "kind": "temperature", "message": message,
                                                   "started_at": 1_800_000_000.0}),))
    while store.apply_alarm_jobs():
        pass
