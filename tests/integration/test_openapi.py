"""The HTTP door's OpenAPI 3.1 document: valid against the official schema, and true of real answers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from switch.kit.openapi import build
from tests.support.families import DONGYING, cert, pharmacy_input
from tests.support.http import CALL_SERVICE, HttpClient, http_client, national
from tests.support.switches import ROOT, in_process_switch


def _validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    return Draft202012Validator({"components": doc["components"], "$ref": f"#/components/schemas/{name}"})


def test_the_document_is_valid_openapi_3_1() -> None:
    """`gongji-switch openapi` prints a document the official OpenAPI 3.1 schema accepts, with every path."""
    out = subprocess.run([sys.executable, "-m", "switch", "openapi"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    doc = json.loads(out.stdout)
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {CALL_SERVICE, "/csb/{infno}", "/gongji/v1/admin", "/gongji/v1/app/{psn_no}",
                                 "/gongji/v1/events", "/gongji/v1/journal"}
    assert doc["paths"]["/csb/{infno}"]["post"]["parameters"][0]["schema"]["enum"] == [
        "1101", "2101", "2102", "2103", "2201", "2202", "2203", "2204", "2205", "2206", "2207", "2208", "2601",
        "3201", "9001", "9002"]


def test_the_yaml_form_says_the_same() -> None:
    """`gongji-switch openapi --yaml` is the same document in YAML."""
    import yaml

    out = subprocess.run([sys.executable, "-m", "switch", "openapi", "--yaml"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    assert yaml.safe_load(out.stdout) == build()


@pytest.fixture
async def client(amqtt_url: str, topic_root: str, tmp_path: Path) -> AsyncIterator[HttpClient]:
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "l.db") as live, http_client(live.http) as c:
        await c.admin("admin.load", DONGYING)
        yield c


async def test_real_requests_and_answers_fit_the_document(client: HttpClient) -> None:
    """Valid requests fit it (a negative amount does not), and every national answer got fits it."""
    doc = build()
    answers = _validator(doc, "NationalAnswer")
    sent = [national("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DH")}),
            national("2102", pharmacy_input("DR", "80.00")), national("2102", pharmacy_input("DR", "80.00")),
            national("2102", pharmacy_input("DE", "-1")), national("1101", {"mdtrt_cert_type": "01",
                                                                           "mdtrt_cert_no": "nobody"})]
    codes = []
    for envelope in sent:
        request = _validator(doc, f"pos.{envelope['infno']}.request")
        assert request.is_valid(envelope) == (envelope is not sent[3]), envelope  # -1 yuan: refused by both
        answer = json.loads(json.dumps(await client.post(CALL_SERVICE, envelope), default=str))
        answers.validate(answer)
        codes.append(answer["code"])
    assert codes == ["OK", "POOLING_AVAILABLE", "OK", "INVALID_REQUEST", "PERSON_NOT_FOUND"]
    admin = await client.admin("admin.state")
    _validator(doc, "admin.response").validate(json.loads(json.dumps(admin, default=str)))


async def test_a_real_journal_page_fits_the_document(client: HttpClient) -> None:
    """GET /gongji/v1/journal's parameters and answers are the document's: a real page of rows validates."""
    doc = build()
    journal = doc["paths"]["/gongji/v1/journal"]["get"]
    assert [p["name"] for p in journal["parameters"]] == ["after", "limit", "terminal_id", "fixmedins_code"]
    assert sorted(journal["responses"]) == ["200", "400", "401", "403", "404"]
    await client.post(CALL_SERVICE, national("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DH")}))
    status, body = await client.raw("/gongji/v1/journal?limit=5", b"", method="GET")
    page = json.loads(body)
    schema = journal["responses"]["200"]["content"]["application/json"]["schema"]
    Draft202012Validator({"components": doc["components"], **schema}).validate(page)
    assert (status, [r["infno"] for r in page["rows"]], page["more"]) == (200, ["admin.load", "1101"], False)
