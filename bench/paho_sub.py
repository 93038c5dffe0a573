"""The Python ceiling: a bare paho-mqtt subscriber that only decodes JSON (QoS 1, automatic PUBACK).

``python -m bench.paho_sub HOST PORT USER PASSWORD TOPIC COUNT TIMEOUT_S`` prints ``ready``
after the SUBACK, then one JSON line when COUNT messages arrived or the timeout passed.
It is configured like every xiaoan client (edge.link.make_client: MQTT 3.1.1, TCP_NODELAY).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from edge.config import BrokerSettings
from edge.link import close_client, make_client


def main(argv: list[str]) -> int:
    host, port, user, password, topic, count_text, timeout_text = argv
    wanted, timeout = int(count_text), float(timeout_text)
    state = {"received": 0, "t_first": 0.0, "t_last": 0.0}
    done = threading.Event()
    subscribed = threading.Event()

    def on_connect(client: mqtt.Client, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        client.subscribe(topic, qos=1)

    def on_subscribe(_c: mqtt.Client, _u: Any, _mid: int, _codes: Any, _p: Any) -> None:
        subscribed.set()

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        json.loads(message.payload)
        now = time.time()
        if state["received"] == 0:
            state["t_first"] = now
        state["received"] += 1
        state["t_last"] = now
        if state["received"] >= wanted:
            done.set()

    broker = BrokerSettings(host=host, port=int(port), username=user, password=password)
    client = make_client(f"bench-paho-sub-{time.monotonic_ns()}", broker, password)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_start()
    if subscribed.wait(10):
        print("ready", flush=True)
    done.wait(timeout)
    close_client(client)
    print(json.dumps(state), flush=True)
    return 0 if state["received"] >= wanted else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
