"""A private PostgreSQL 15 cluster on a free loopback port: for the tests, the bench and trying the district out.

Started the way the project starts Mosquitto and InfluxDB: Debian's binaries
(``postgresql-15``, installed by ``scripts/install-deps.sh``) run directly —
``initdb`` into a throwaway directory, then ``postgres`` in the foreground as a child
process — never the system cluster (``/var/lib/postgresql``) and never ``systemctl``.

PostgreSQL refuses to run as root. Run by root (a container, CI), the cluster runs as
the ``postgres`` account the Debian package creates, in a directory of its own under
the system temp dir (a pytest ``tmp_path`` is readable by root only).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

from hub.broker import free_port

#: Where Debian's postgresql-15 puts its server binaries (``XIAOAN_PG_BIN`` overrides it).
PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: The account the cluster runs as when started by root.
RUN_AS = "postgres"
#: The cluster's superuser: the tests and the district service connect as it, trusted on loopback only.
SUPERUSER = "xiaoan"
START_TIMEOUT_S = 30.0


class PostgresError(RuntimeError):
    """The private cluster could not be created or started; the message says what to install or look at."""


def pg_bin() -> Path:
    found = Path(os.environ.get("XIAOAN_PG_BIN", str(PG_BIN)))
    if not (found / "postgres").is_file():
        raise PostgresError(f"no PostgreSQL server in {found}: install Debian's postgresql-15 (`make deps`),"
                            " or set XIAOAN_PG_BIN to the directory holding initdb, postgres and pg_ctl")
    return found


def _run_as_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        raise PostgresError(f"started by root, the cluster runs as the {RUN_AS!r} account, which this machine lacks:"
                            " install Debian's postgresql-15 (`make deps`), or run as another user") from None


class PostgresServer:
    """One private cluster: ``initdb`` at the first start, stopped (fast shutdown) and removed at the end."""

    def __init__(self, directory: Path | None = None, port: int | None = None, host: str = "127.0.0.1",
                 durable: bool = True) -> None:
        self.host = host
        #: ``False``: no fsync (a throwaway cluster for tests, where workers are killed but the database never is:
        #: a database per test and its shutdown then take a fraction of the time on a busy disk).
        self.durable = durable
        self.port = port or free_port(host)
        self._bin = pg_bin()
        self._user: pwd.struct_passwd | None = _run_as_account() if os.geteuid() == 0 else None
        self._owned_dir = directory is None or self._user is not None
        base = Path(tempfile.mkdtemp(prefix="xiaoan-pg-")) if self._owned_dir else directory
        assert base is not None
        self.directory = base
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    def _run_as(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def start(self) -> PostgresServer:
        """Start the cluster, made with ``initdb`` the first time; after ``halt`` the same data and port again."""
        if self._user is not None:
            os.chown(self.directory, self._user.pw_uid, self._user.pw_gid)
        env = {**os.environ, "LC_ALL": "C.UTF-8", "TZ": "UTC"}
        if not (self.data / "PG_VERSION").exists():
            self._initdb(env)
        with self.log.open("ab") as log:
            if self._user is not None:
                os.chown(self.log, self._user.pw_uid, self._user.pw_gid)
            self.process = subprocess.Popen(
                [str(self._bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={self.directory}",
                 "-c", "max_connections=200", "-c", "shared_buffers=32MB",
                 "-c", f"fsync={'on' if self.durable else 'off'}",
                 # A dead peer's session (and the advisory locks it held) goes in seconds, not hours.
                 "-c", "tcp_keepalives_idle=5", "-c", "tcp_keepalives_interval=2", "-c", "tcp_keepalives_count=2"],
                stdout=log, stderr=subprocess.STDOUT, env=env, **self._run_as())  # type: ignore[call-overload]
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PostgresError(f"postgres exited ({self.process.returncode}): {self._log_tail()}")
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.stop()
        raise PostgresError(f"postgres did not accept connections on {self.host}:{self.port}: {self._log_tail()}")

    def _initdb(self, env: dict[str, str]) -> None:
        initdb = subprocess.run([str(self._bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                                 "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
                                capture_output=True, env=env, check=False, **self._run_as())  # type: ignore[call-overload]
        if initdb.returncode != 0:
            raise PostgresError(f"initdb failed: {initdb.stderr.decode(errors='replace')[-2000:]}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def create_database(self, name: str) -> str:
        """A new empty database (one per test keeps the tests apart); returns its DSN."""
        with psycopg.connect(self.dsn(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')  # name from the tests, never from input
        return self.dsn(name)

    def stop(self) -> None:
        """Stop the cluster and remove it (when its directory is its own)."""
        self.halt()
        if self._owned_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def halt(self) -> None:
        """Stop the cluster and keep its data: ``start`` brings it back on the same port (a database outage)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: sessions ended, data flushed
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with contextlib.suppress(Exception):
            self.stop()
