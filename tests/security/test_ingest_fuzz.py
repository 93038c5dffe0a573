"""Any bytes on any topic end as a stored message or a dead letter — never an exception, never a stuck batch.

Hypothesis drives ``IngestPipeline.process`` directly (thousands of cases, real
SQLite stores), then a smaller number through the real broker into a running hub.
A batch the pipeline raised on would be retried forever and block every message
behind it, so "no exception" is the property that keeps the hub alive.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import wire
from edge.link import close_client
from hub.broker import Account, MosquittoBroker
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.conftest import SITE, wait_for
from tests.faults.harness import record_figures
from tests.test_pipeline import raw_client

DIRECT_CASES = 3000
BROKER_CASES = 150
_cases: dict[str, int] = {"direct": 0, "broker": 0}

channels = st.sampled_from([c.value for c in wire.Channel] + ["firmware", "", "#", "telemetry/extra"])
names = st.one_of(st.sampled_from(["dev-a", "dev-b", "fridge-1"]),
                  st.text(min_size=0, max_size=70), st.text(alphabet="\u202e\u200b\x00é温😀/+#", max_size=8))
topics = st.one_of(
    st.builds(lambda site, device, channel: f"xiaoan/v1/{site}/{device}/{channel}", names, names, channels),
    st.text(max_size=80),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=20)
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=5), st.none())


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A payload shaped like the contract with fields bent: the cases that get furthest into the pipeline."""
    reading = {"sensor": draw(names), "kind": draw(st.sampled_from(["temperature", "", "x" * 40])),
               "value": draw(numbers), "unit": "°C", "ts": draw(numbers)}
    message: dict[str, Any] = {"device": draw(names), "boot_id": draw(st.text(max_size=70)), "seq": draw(numbers),
                               "readings": draw(st.sampled_from([[reading], [], [reading] * 3]))}
    extra = draw(st.dictionaries(st.sampled_from(["ts", "sensor", "kind", "state", "detail", "uptime_s",
                                                  "outbox_depth", "dropped", "clock_synced", "state"]),
                                 json_values, max_size=5))
    return {**message, **extra}


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


payloads = st.one_of(
    st.binary(max_size=300),
    json_values.map(_dump),
    near_valid().map(_dump),
    st.integers(min_value=1, max_value=400).map(lambda depth: b"[" * depth + b"]" * depth),
)


@pytest.fixture(scope="module")
def direct_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = Hub(HubSettings(home=tmp_path_factory.mktemp("fuzz-hub")), connect_mqtt=False)
    yield hub
    hub.stop()


def accounted(hub: Hub) -> int:
    counters = hub.pipeline.counters.snapshot()
    return int(counters["stored_messages"] + counters["duplicates"] + counters["dead_letters"])


@settings(max_examples=DIRECT_CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
@given(topic=topics, payload=payloads)
def test_any_bytes_on_any_topic_are_stored_or_dead_lettered(direct_hub: Hub, topic: str, payload: bytes) -> None:
    _cases["direct"] += 1
    counters = direct_hub.pipeline.counters.snapshot()
    before, received = accounted(direct_hub), counters["received"]
    direct_hub.pipeline.process([Inbound(topic, payload, 1, 1, 0.0)])  # must not raise
    assert direct_hub.pipeline.counters.snapshot()["received"] == received + 1
    decided = accounted(direct_hub) - before
    if decided == 0:
        # Not a telemetry or event: a valid status or health (recorded), or our own command echoed back.
        parts = wire.parse_topic(topic)
        assert parts.channel in (wire.Channel.STATUS, wire.Channel.HEALTH, wire.Channel.CMD)
    else:
        assert decided == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e308 * 10])
def test_non_finite_values_are_dead_lettered(direct_hub: Hub, bad: float) -> None:
    assert not math.isfinite(bad)
    payload = _dump({"device": "dev-a", "boot_id": "nan", "seq": 1, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": bad, "ts": 1000.0}]})
    def dead_lettered() -> int:  # kept, or kept and then dropped over the per-device cap
        return direct_hub.state.dead_letter_count() + sum(direct_hub.state.dead_letters_dropped().values())

    before = dead_lettered()
    direct_hub.pipeline.process([Inbound(wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), payload, 1, 1, 0.0)])
    assert dead_lettered() == before + 1


@pytest.mark.slow
@pytest.mark.broker
def test_fuzzed_messages_through_the_broker_never_stop_the_hub(
        make_hub: Callable[..., Hub], broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    hub = make_hub(client_id="hub-fuzz")
    # The hub account may write anywhere under the root: the only way odd topics reach the hub.
    sender, _ = raw_client(broker, "hub", accounts["hub"].password, "fuzz-sender")
    sent: list[int] = []

    @settings(max_examples=BROKER_CASES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(device=st.sampled_from(["dev-a", "dev-b"]), channel=st.sampled_from(["telemetry", "event", "health",
                                                                                "status", "firmware"]),
           payload=payloads)
    def send(device: str, channel: str, payload: bytes) -> None:
        _cases["broker"] += 1
        sender.publish(f"xiaoan/v1/{SITE}/{device}/{channel}", payload, qos=1).wait_for_publish(5)
        sent.append(1)

    send()
    # A good message after all of them arrives and is stored: the pipeline is not stuck on a poison batch.
    good = json.dumps({"device": "dev-a", "boot_id": "after-fuzz", "seq": 1, "readings": [
        {"sensor": "fuzz-probe", "kind": "temperature", "value": 4.0, "ts": 7000.0}]})
    sender.publish(wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), good, qos=1).wait_for_publish(5)
    wait_for(lambda: hub.series.readings("dev-a/fuzz-probe", 6999, 7001), timeout=60)

    def every_message_taken() -> bool:
        # Counted after its batch is written and evaluated: the reading can be visible a moment before.
        return int(hub.pipeline.counters.snapshot()["received"]) >= len(sent) + 1

    wait_for(every_message_taken, timeout=30)
    assert hub.pipeline.counters.snapshot()["store_failures"] == 0
    close_client(sender)


def teardown_module() -> None:
    record_figures("ingest_fuzz", {"direct_cases": _cases["direct"], "broker_cases": _cases["broker"]},
                   file="security.json")
