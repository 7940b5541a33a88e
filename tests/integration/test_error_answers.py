"""Error answers the service builds before any transaction runs fit the published contract."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest

from switch.cli import main
from switch.core.model import iso
from switch.doors.link import NODELAY, parse_broker_url
from switch.journal.table import read_journal
from switch.store.sqlite import SqliteStore
from tests.integration.service_helpers import make_switch
from tests.support.switches import InProcessSwitch

QUERY = {"infno": "1101", "msgid": "T1-000001", "fixmedins_code": "P37050000001",
         "input": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDR"}}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JSON Schemas as ``gongji-switch schemas DIR`` publishes them."""
    directory = tmp_path_factory.mktemp("schemas")
    assert main(["schemas", str(directory)]) == 0
    return directory


def published(schemas: Path, message: str) -> jsonschema.Draft7Validator:
    schema = json.loads((schemas / f"{message}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def problems(validator: jsonschema.Draft7Validator, answer: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(answer)]


async def test_a_bad_topic_id_is_answered_in_the_published_shape(live: InProcessSwitch, schemas: Path) -> None:
    """pos/T 1/req: INVALID_REQUEST at loc topic, naming the valid msgid and infno, with respond_time."""
    broker = parse_broker_url(live.url)
    req, resp = f"{live.root}/pos/T 1/req", f"{live.root}/pos/T 1/resp"
    async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY) as client:
        await client.subscribe(resp, qos=1)
        await client.publish(req, json.dumps(QUERY).encode(), qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(client.messages))
    answer = json.loads(bytes(message.payload))
    assert problems(published(schemas, "pos.rejected.response"), answer) == []
    assert answer == {"infno": "1101", "inf_refmsgid": "T1-000001", "infcode": -1, "code": "INVALID_REQUEST",
                      "err_msg": "topic id 'T 1' must be 1-64 characters of A-Za-z0-9_-",
                      "respond_time": iso(live.clock.now()),
                      "output": {"errors": [{"loc": ["topic"], "msg": "bad id"}]}}
    store = live.switch.store
    assert isinstance(store, SqliteStore)
    await store.write_journal()
    rows = read_journal(store.path, msgid="T1-000001")
    assert [(r.topic, r.code) for r in rows] == [(req, "INVALID_REQUEST")]
    assert rows[0].hint is not None and rows[0].hint.startswith(f"the topic id 'T 1' in {req} is not 1-64")


async def test_an_internal_error_is_answered_in_the_published_shape(tmp_path: Path, schemas: Path) -> None:
    """A failure inside the service (here: asked before it started) answers INTERNAL_ERROR naming the msgid."""
    service = make_switch(tmp_path / "never-started.db")
    reply = await service.handle("pos", "T1", json.dumps(QUERY).encode())
    answer = json.loads(reply.payload)
    assert problems(published(schemas, "pos.rejected.response"), answer) == []
    assert problems(published(schemas, "pos.1101.response"), answer) == []
    assert (reply.code, reply.events) == ("INTERNAL_ERROR", [])
    assert answer == {"infno": "1101", "inf_refmsgid": "T1-000001", "infcode": -1, "code": "INTERNAL_ERROR",
                      "err_msg": "internal error; nothing was committed for this request",
                      "respond_time": iso(service.clock.now()), "output": {}}
