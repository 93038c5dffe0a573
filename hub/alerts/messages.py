"""Alarm texts staff read on a phone: what, where, how far out of range, since when, how to acknowledge.

Simplified Chinese by default, English selectable. Times are the school's local time.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M")


def temperature(name: str, value: float, limit: float | None, since: float, tz: ZoneInfo, locale: str) -> str:
    when = local_time(since, tz)
    if limit is None:
        return f"{name} 温度 {value:.1f} °C，自 {when} 起" if locale == "zh" else f"{name}: {value:.1f} °C since {when}"
    above = value > limit
    delta = abs(value - limit)
    if locale == "zh":
        side = "超出上限" if above else "低于下限"
        return f"{name} 温度 {value:.1f} °C，{side} {limit:g} °C（偏离 {delta:.1f} °C），自 {when} 起"
    side = "above the upper" if above else "below the lower"
    return f"{name}: {value:.1f} °C, {delta:.1f} °C {side} limit of {limit:g} °C, since {when}"


def door_open(name: str, since: float, tz: ZoneInfo, locale: str) -> str:
    when = local_time(since, tz)
    return f"{name} 门未关闭，自 {when} 起" if locale == "zh" else f"{name} has been open since {when}"


def stale(name: str, last: float | None, tz: ZoneInfo, locale: str) -> str:
    when = local_time(last, tz) if last else ("从未" if locale == "zh" else "never")
    return f"{name} 无数据，最后一次 {when}" if locale == "zh" else f"{name}: no data since {when}"


def offline(device: str, since: float, tz: ZoneInfo, locale: str) -> str:
    when = local_time(since, tz)
    return f"设备 {device} 离线，自 {when} 起" if locale == "zh" else f"Device {device} offline since {when}"


def fault(name: str, reason: str, since: float, tz: ZoneInfo, locale: str) -> str:
    when = local_time(since, tz)
    if locale == "zh":
        return f"{name} 传感器故障（{reason}），自 {when} 起"
    return f"{name}: sensor fault ({reason}) since {when}"


def clock_unsynced(device: str, locale: str) -> str:
    return f"设备 {device} 时钟未同步，读数时间不可信" if locale == "zh" else \
        f"Device {device}: clock not synchronised; reading times are unreliable"


def dropping(device: str, dropped: int, locale: str) -> str:
    return f"设备 {device} 本地缓存已满，已丢弃 {dropped} 条读数" if locale == "zh" else \
        f"Device {device}: outbox full, {dropped} readings dropped"


def channel_failing(channel: str, error: str, locale: str) -> str:
    if locale == "zh":
        return f"通知渠道 {channel} 发送失败：{error}"
    return f"Notification channel {channel} failing: {error}"
