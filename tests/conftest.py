"""Shared fixtures: real brokers (embedded amqtt and mosquitto), unique topic roots, the switch."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.brokers import AmqttThread, MosquittoProcess
from tests.support.switches import InProcessSwitch, in_process_switch

pytest_plugins = ("pytester",)

BROKERS = ("amqtt", "mosquitto")


@pytest.fixture(scope="session")
def amqtt_url() -> Iterator[str]:
    broker = AmqttThread().start()
    yield broker.url
    broker.stop()


@pytest.fixture(scope="session")
def mosquitto_url() -> Iterator[str]:
    broker = MosquittoProcess().start()
    yield broker.url
    broker.stop()


@pytest.fixture(params=BROKERS)
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each broker test runs twice: on the embedded amqtt broker and on mosquitto."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def topic_root() -> str:
    """A topic root of its own per test, so tests sharing a broker never hear each other."""
    return f"gongji-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def live(broker_url: str, topic_root: str, tmp_path: Path) -> AsyncIterator[InProcessSwitch]:
    """The switch in this test's event loop, on a real broker, a real SQLite file, a virtual clock."""
    async with in_process_switch(broker_url, topic_root, tmp_path / "ledger.db") as running:
        yield running
