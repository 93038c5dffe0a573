"""Stopping the servers the project starts itself (Mosquitto, InfluxDB)."""

from __future__ import annotations

import subprocess


def stop_gracefully(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (servers save their state on the way out), SIGKILL if it does not go in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
