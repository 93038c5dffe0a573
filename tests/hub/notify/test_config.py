from __future__ import annotations

from pathlib import Path

import pytest

from edge.yamlconfig import ConfigError
from hub.notify.apprise_channel import AppriseChannel
from hub.notify.config import build_channels, build_dispatcher, load_notify_config, rate_limits
from hub.notify.deliverylog import DeliveryLog
from hub.notify.local import WebChannel
from hub.notify.sms import SmsChannel

EXAMPLE = Path(__file__).resolve().parents[3] / "firmware-config" / "hub" / "notify.example.yaml"

GOOD = """\
hub_url: http://hub.local:8000
channels:
  wecom:
    type: apprise
    urls: ["wecombot://0123456789abcdef"]
  hook:
    type: apprise
    urls: ["json://127.0.0.1:9/x"]
  sms:
    type: sms
    port: /dev/ttyUSB2
    numbers: ["+8613800138000"]
  web: {type: web}
  buzzer: {type: buzzer}
routes:
  staff:
    always: [web, buzzer]
    fallback: [wecom, sms]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "notify.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid() -> None:
    config = load_notify_config(EXAMPLE)
    assert config.locale == "zh"
    assert config.routes


def test_good_config_builds_channels_with_bot_rate_limits(tmp_path: Path) -> None:
    config = load_notify_config(_write(tmp_path, GOOD))
    channels = build_channels(config)
    assert isinstance(channels["wecom"], AppriseChannel)
    assert isinstance(channels["sms"], SmsChannel)
    assert isinstance(channels["web"], WebChannel)
    buckets = rate_limits(config)
    assert buckets["wecom"].max_in_window() == 20  # WeCom blocks above ~20/min
    assert "hook" not in buckets
    log = DeliveryLog(tmp_path / "log.sqlite3")
    dispatcher = build_dispatcher(config, channels, log)
    assert dispatcher.tiers == ["staff"]
    log.close()


def test_errors_name_file_line_and_key(tmp_path: Path) -> None:
    text = GOOD.replace('numbers: ["+8613800138000"]', 'numbers: ["13800138000"]').replace(
        "    urls: [\"json://127.0.0.1:9/x\"]", "    urls: [\"json://127.0.0.1:9/x\"]\n    retries: 3")
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_notify_config(path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:9: channels.hook.retries: Extra inputs") for p in problems), problems
    assert any(p.startswith(f"{path}:13: channels.sms.numbers") and "+86" in p for p in problems), problems


def test_route_to_unknown_channel_and_bad_apprise_url(tmp_path: Path) -> None:
    text = GOOD.replace("fallback: [wecom, sms]", "fallback: [wecom, smss]").replace(
        "wecombot://0123456789abcdef", "nosuchscheme://x")
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_notify_config(path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:18: routes.staff.fallback.1: unknown channel 'smss'") for p in problems), problems
    assert any(p.startswith(f"{path}:5: channels.wecom.urls.0") for p in problems), problems


def test_unknown_channel_type_and_missing_routes(tmp_path: Path) -> None:
    path = _write(tmp_path, "channels:\n  pager:\n    type: pager\n")
    with pytest.raises(ConfigError) as caught:
        load_notify_config(path)
    text = "\n".join(caught.value.problems)
    assert f"{path}:3: channels.pager" in text or f"{path}:2: channels.pager" in text
    assert "routes" in text
