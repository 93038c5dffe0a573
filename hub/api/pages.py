"""The plain status page at ``/``: sensors, latest values, active alarms; it reloads itself.

Server-rendered on purpose: it works on any phone browser, with no script, and
shows the truth of the last request even if the network then drops.
"""

from __future__ import annotations

import time
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from hub.api.deps import HubDep

router = APIRouter(tags=["pages"])

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:0;padding:12px;background:#f5f6f8}
h1{font-size:1.3rem;margin:0 0 8px} h2{font-size:1.1rem;margin:16px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{padding:8px;border-bottom:1px solid #ddd;text-align:left}
.firing{background:#fde2e1;color:#8a1c17;font-weight:bold} .pending{background:#fff4d6}
.ok{color:#1d6b2f} .fault{color:#8a1c17} .banner{background:#fff4d6;padding:8px;margin-bottom:8px}
.muted{color:#666;font-size:.9rem}
"""


def _local(ts: float | None, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M:%S") if ts else "—"


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def status_page(hub: HubDep) -> str:
    tz = hub.tz
    alerts = hub.state.alerts(["pending", "firing"])
    alert_rows = "".join(
        f'<tr class="{escape(a.state)}"><td>{"报警中 FIRING" if a.state == "firing" else "待确认 PENDING"}</td>'
        f"<td>{escape(a.message)}</td><td>{_local(a.started_at, tz)}</td></tr>"
        for a in alerts
    ) or '<tr><td colspan="3" class="ok">无报警 · no active alarms</td></tr>'
    sensor_rows = []
    for s in hub.state.sensors():
        limits = hub.engine.limits(s["key"])
        if s["last_fault"]:
            value = f'<span class="fault">故障 fault: {escape(s["last_fault"])}</span>'
        elif s["last_value"] is not None:
            value = f'{s["last_value"]:.1f} {escape(s["unit"])}'
        else:
            value = escape(s["last_state"] or "—")
        band = ""
        if limits is not None:
            low = "" if limits.low is None else f"{limits.low:g}"
            high = "" if limits.high is None else f"{limits.high:g}"
            band = f"{low} … {high}"
        sensor_rows.append(
            f"<tr><td>{escape(s['name'] or s['sensor'])}<br><span class=muted>{escape(s['key'])}</span></td>"
            f"<td>{value}</td><td>{escape(band)}</td><td>{_local(s['last_ts'], tz)}</td></tr>"
        )
    devices = "".join(
        f"<tr><td>{escape(d['device'])}</td>"
        f"<td>{'在线 online' if d['state'] == 'online' else '离线 ' + escape(d['state'])}</td>"
        f"<td>{_local(d['last_seen'], tz)}</td></tr>"
        for d in hub.state.devices()
    )
    banner = f'<div class="banner">{escape(hub.settings.banner)}</div>' if hub.settings.banner else ""
    now = _local(time.time(), tz)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="refresh" content="5">
<title>校安 xiaoan</title><style>{_STYLE}</style></head><body>
<h1>校安 xiaoan · 状态 status</h1>{banner}<div class="muted">更新于 updated {now} · <a href="/docs">API</a></div>
<h2>报警 Alarms</h2><table><tr><th>状态</th><th>内容</th><th>开始</th></tr>{alert_rows}</table>
<h2>传感器 Sensors</h2><table><tr><th>名称</th><th>当前值</th><th>范围</th><th>时间</th></tr>
{"".join(sensor_rows)}</table>
<h2>设备 Devices</h2><table><tr><th>设备</th><th>状态</th><th>最后通信</th></tr>{devices}</table>
</body></html>"""
