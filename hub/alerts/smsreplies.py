"""Acknowledge by replying to the alarm SMS: "1", or "确认 4821", from an account's mobile number.

The hub reads the modem's inbox (``SerialModem.read_inbox``), maps the sender to the
enabled account with that number and the code to the alarm (hub.auth.smscodes), and
acknowledges as that person, audited ``"via": "sms"``; the sender gets a confirmation
SMS. A reply from an unknown number, with no live code, or that says something else
acts on nothing: it is answered politely and logged by number only, never its text
(people write all sorts of things into an SMS). A gate alarm is not acknowledged by SMS:
it needs a reason someone chose, so the answer points to the link or the web page.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from hub.alerts.engine import AlertEngine
from hub.alerts.kinds import AlertKind
from hub.alerts.lifecycle import LifecycleError
from hub.auth.roles import Permission, allows
from hub.auth.smscodes import SmsCodes
from hub.auth.store import PHONE_PATTERN, AccountStore
from hub.notify.pdu import DeliveredSms
from hub.notify.sms import ModemError, SerialModem
from hub.store.state import StateStore

_LOGGER = logging.getLogger(__name__)

#: "1", or a four-digit code after an optional word ("确认 4821", "ack 4821", "4821").
_REPLY = re.compile(r"^(?:1|(?:确认|确定|ack|ok)?\s*(\d{4}))$", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyOutcome:
    """What a reply did: the alarm acknowledged (or None) and the answer sent back (or None)."""

    acknowledged: int | None
    answer: str | None


def _masked(number: str) -> str:
    return f"…{number[-4:]}" if len(number) > 4 else "…"


class SmsReplies:
    def __init__(self, codes: SmsCodes, accounts: AccountStore, engine: AlertEngine, store: StateStore) -> None:
        self._codes = codes
        self._accounts = accounts
        self._engine = engine
        self._store = store

    def poll(self, modem: SerialModem) -> list[ReplyOutcome]:
        """Read and act on every SMS waiting on ``modem``; a modem that fails is logged and tried next time."""
        try:
            received = modem.read_inbox()
        except ModemError as error:
            _LOGGER.warning("cannot read SMS replies on %s: %s", modem.url, error)
            return []
        outcomes = [self.handle(sms) for sms in received]
        for sms, outcome in zip(received, outcomes, strict=True):
            if outcome.answer is not None and PHONE_PATTERN.match(sms.number):
                try:
                    modem.send_sms(sms.number, outcome.answer)
                except ModemError as error:
                    _LOGGER.warning("cannot answer the SMS from %s: %s", _masked(sms.number), error)
        return outcomes

    def handle(self, sms: DeliveredSms) -> ReplyOutcome:
        """Act on one reply; never raises for what a sender wrote."""
        user = self._accounts.user_by_phone(sms.number)
        if user is None:
            _LOGGER.warning("SMS from a number no account has (%s): ignored", _masked(sms.number))
            return ReplyOutcome(None, "本号码未在校安登记，无法确认报警。This number is not registered with xiaoan.")
        zh = not user.locale.startswith("en")
        if not allows(user.role, Permission.ALERT_ACK):
            _LOGGER.warning("SMS reply from %s (%s), whose role may not acknowledge: ignored", user.username,
                            _masked(sms.number))
            return ReplyOutcome(None, "你的账号不能确认报警。" if zh else "Your account may not acknowledge alarms.")
        found = _REPLY.match(unicodedata.normalize("NFKC", sms.text).strip())
        if found is None:
            _LOGGER.info("SMS from %s (%s) is not a reply code: ignored", user.username, _masked(sms.number))
            return ReplyOutcome(None, "回复 1 或“确认 四位确认码”即可确认报警。" if zh
                                else "Reply 1, or ACK and the four-digit code, to acknowledge.")
        alert_id = self._codes.use(sms.number, found.group(1))
        if alert_id is None:
            _LOGGER.info("SMS reply from %s (%s) names no live code: ignored", user.username, _masked(sms.number))
            return ReplyOutcome(None, "确认码无效或已过期，请用消息里的链接或登录校安确认。" if zh
                                else "That code is unknown or expired; use the link in the message or sign in.")
        return self._acknowledge(alert_id, user.username, user.display_name, zh)

    def _acknowledge(self, alert_id: int, username: str, name: str, zh: bool) -> ReplyOutcome:
        alert = self._store.alert(alert_id)
        if alert is None:
            return ReplyOutcome(None, None)
        if alert.kind == AlertKind.GATE:
            return ReplyOutcome(None, f"门岗报警 #{alert_id} 需要选择开门原因，请用消息里的链接或登录确认。" if zh
                                else f"Gate alarm #{alert_id} needs a reason: use the link in the message or sign in.")
        try:
            self._engine.act(alert_id, "acknowledge", username, "", data={"via": "sms"})
        except LifecycleError:
            latest = self._store.alert(alert_id)
            by = latest.acked_by if latest is not None and latest.acked_by else "—"
            return ReplyOutcome(None, f"报警 #{alert_id} 已由 {by} 确认或已结束。" if zh
                                else f"Alarm #{alert_id} was acknowledged by {by} or has ended.")
        _LOGGER.info("alert %d acknowledged by %s by SMS reply", alert_id, username)
        return ReplyOutcome(alert_id, f"已确认报警 #{alert_id}（{name}）。" if zh
                            else f"Alarm #{alert_id} acknowledged ({name}).")
