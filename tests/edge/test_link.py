"""Closing an MQTT client: a stop must not fail on the race in paho's ``loop_stop`` (paho-mqtt #872)."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.link import close_client
from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for

pytestmark = pytest.mark.broker


class ThreadEndsInsideLoopStop(mqtt.Client):
    """The race made certain: the network thread ends (and clears ``_thread``) just after ``loop_stop`` saw it.

    ``loop_stop`` checks ``_thread``, sets ``_thread_terminate`` and reads ``_thread`` again to
    join it. Here the thread's own clearing waits until then: before ``_thread_terminate`` the
    thread is seen, after it the thread has ended and is gone, as when the thread wins the race.
    """

    @property
    def _thread(self) -> threading.Thread | None:
        thread: threading.Thread | None = self.__dict__.get("_network_thread")
        if thread is not None and self.__dict__.get("_thread_terminate") and thread is not threading.current_thread():
            thread.join(10)
            return None
        return thread

    @_thread.setter
    def _thread(self, value: threading.Thread | None) -> None:
        if value is None and threading.current_thread() is self.__dict__.get("_network_thread"):
            return  # the ending thread clears it: seen as cleared once loop_stop has begun (above)
        self.__dict__["_network_thread"] = value


def connected(broker: MosquittoBroker, account: Account) -> ThreadEndsInsideLoopStop:
    client = ThreadEndsInsideLoopStop(CallbackAPIVersion.VERSION2, client_id="close-race", protocol=mqtt.MQTTv311)
    client.username_pw_set(account.username, account.password)
    up = threading.Event()
    client.on_connect = lambda *_args: up.set()
    client.connect(broker.host, broker.port_for(account.username))
    client.loop_start()
    assert up.wait(10)
    return client


def test_paho_loop_stop_fails_when_the_thread_ends_first(broker: MosquittoBroker,
                                                         accounts: dict[str, Account]) -> None:
    # What close_client is for: paho 2.2's own loop_stop, in the race.
    client = connected(broker, accounts["hub"])
    client.disconnect()
    with pytest.raises(AttributeError):
        client.loop_stop()


def test_close_client_disconnects_and_returns_when_the_thread_ends_first(broker: MosquittoBroker,
                                                                         accounts: dict[str, Account]) -> None:
    client = connected(broker, accounts["hub"])
    gone: list[Any] = []
    client.on_disconnect = lambda *args: gone.append(args)
    close_client(client)
    wait_for(lambda: gone)
    assert not client.is_connected()
