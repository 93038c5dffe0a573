"""The two InfluxDB HTTP endpoints every version serves: ``/write`` (line protocol) and ``/query`` (InfluxQL).

Not the ``influxdb-client`` v2 API: ``/api/v2/write`` answers 404 on InfluxDB 1.x
before 1.8 (Debian ships 1.6.7), while ``/write`` and ``/query`` are native in 1.x
and kept as compatibility endpoints in 2.x (through a DBRP mapping) and 3.x. So one
code path serves all three. Transient failures (connection refused, timeouts, 5xx,
429) are retried with backoff; after the last attempt the error is raised, so the
hub does not acknowledge what it could not store.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from hub.store.base import SeriesUnreachable

_LOGGER = logging.getLogger(__name__)

#: The whole of a 400 answer that only reports points older than the retention policy.
_BEYOND_RETENTION = re.compile(r'400 to POST /write: \{"error":"partial write: points beyond retention policy'
                               r' dropped=\d+"\}$')


class InfluxError(RuntimeError):
    """InfluxDB refused or could not be reached; ``transient`` says whether a retry may help."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class InfluxUnreachable(InfluxError, SeriesUnreachable):
    """No answer from InfluxDB at all (connection refused, timed out)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes (database, retention policy, measurement, tag key)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    """An InfluxQL string literal in single quotes (tag values in WHERE)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxHttp:
    def __init__(self, url: str, database: str, username: str | None = None, password: str | None = None,
                 token: str | None = None, timeout_s: float = 30.0, attempts: int = 4, backoff_s: float = 0.25,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, auth=auth,
                                    timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)))
        self.url = url
        self.database = database
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._sleep = sleep

    def write(self, lines: Sequence[str], retention_policy: str | None, precision: str = "ns") -> None:
        if not lines:
            return
        params = {"db": self.database, "precision": precision}
        if retention_policy:
            params["rp"] = retention_policy
        body = "\n".join(lines).encode("utf-8")
        try:
            self._request("POST", "/write", params=params, content=body)
        except InfluxError as error:
            # Points older than the policy's retention are refused while the rest is written: they
            # would be expired at once anyway (SQLite prunes them on its next maintenance round).
            if _BEYOND_RETENTION.search(str(error)) is None:
                raise
            _LOGGER.warning("%s", error)

    def query(self, statement: str, write: bool = False) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the series of the single statement (timestamps in epoch milliseconds).

        ``write`` sends a POST, which 1.x requires for statements that change something.
        """
        params = {"db": self.database, "q": statement, "epoch": "ms"}
        if write:
            response = self._request("POST", "/query", data=params)
        else:
            response = self._request("GET", "/query", params=params)
        results = response.json().get("results", [])
        series: list[dict[str, Any]] = []
        for result in results:
            if "error" in result:
                raise InfluxError(f"InfluxDB at {self.url}: {result['error']} (in: {statement})", transient=False)
            series.extend(result.get("series", []))
        return series

    def rows(self, statement: str) -> list[dict[str, Any]]:
        """The rows of a query as dicts, tags of GROUP BY folded in."""
        found: list[dict[str, Any]] = []
        for serie in self.query(statement):
            tags = serie.get("tags", {})
            for values in serie.get("values", []):
                found.append({**tags, **dict(zip(serie["columns"], values, strict=True))})
        return found

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            failure: InfluxError
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                failure = InfluxUnreachable(f"InfluxDB at {self.url} unreachable: {error}")
            else:
                if response.status_code < 300:
                    return response
                transient = response.status_code >= 500 or response.status_code == 429
                failure = InfluxError(f"InfluxDB at {self.url} answered {response.status_code} to {method} {path}:"
                                      f" {response.text.strip()[:500]}", transient=transient)
            if not failure.transient or attempt == self._attempts:
                raise failure
            _LOGGER.warning("%s (attempt %d of %d, retrying in %.2fs)", failure, attempt, self._attempts, delay)
            self._sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._client.close()
