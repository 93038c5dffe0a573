"""Print the figures of the last fault-suite run as the table in docs/reliability.md.

    .venv/bin/pytest tests/faults -q && .venv/bin/python -m tests.faults.table
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.faults.harness import ARTIFACTS

ORDER = ["broker_restart", "broker_sigkill", "hub_sigkill", "edge_sigkill", "network_cut", "full_outbox",
         "broker_queue_overflow", "influx_down", "clock_wrong", "alarm_path_broken"]


def cell(value: Any, suffix: str = "") -> str:
    return "—" if value is None else f"{value}{suffix}"


def rows(data: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| fault | rounds | messages produced | stored | lost | stored twice | reported dropped |"
             " longest outage survived | time to drain |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in [n for n in ORDER if n in data] + sorted(set(data) - set(ORDER)):
        f = data[name]
        drain = f.get("drain_s", f.get("drain_s_max"))
        lines.append(f"| {f['fault']} | {f.get('rounds', 1)} | {cell(f.get('produced'))} | {cell(f.get('stored'))}"
                     f" | {cell(f.get('lost'))} | {cell(f.get('duplicated'))} | {cell(f.get('reported_dropped'))}"
                     f" | {cell(f.get('longest_outage_s'), ' s')} | {cell(drain, ' s')} |")
    return lines


def main() -> int:
    path = ARTIFACTS / "faults.json"
    if not path.exists():
        print(f"{path}: no figures yet; run .venv/bin/pytest tests/faults first", file=sys.stderr)
        return 1
    print("\n".join(rows(json.loads(path.read_text(encoding="utf-8")))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
