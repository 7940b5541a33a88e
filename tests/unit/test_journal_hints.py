"""The journal's hints, table-driven: which messages are strays, and what each row says went wrong."""

from __future__ import annotations

import json

import pytest

from switch.journal.hints import Heard, Journal, row_of, stray_hint

R = "gongji/v1"
REQUEST = json.dumps({"infno": "2102", "msgid": "T1-1", "input": {}}).encode()
ANSWER = b'{"infno":"2102","inf_refmsgid":"T1-1","infcode":0,"code":"OK","err_msg":"success","output":{}}'
SERVED = f"(it serves {R}/pos/{{terminal_id}}/req, {R}/app/{{psn_no}}/req and {R}/admin/req)"


@pytest.mark.parametrize(("topic", "payload"), [
    (f"{R}/pos/T1/req", REQUEST),
    (f"{R}/app/DH/req", REQUEST),
    (f"{R}/admin/req", REQUEST),
    (f"{R}/events", b'{"type":"window.opened"}'),
    (f"{R}/pos/T1/resp", ANSWER),
    (f"{R}/admin/resp", ANSWER),
    (f"{R}/pos/T1/resp", b"not json"),
    ("other/root/pos/T1/request", REQUEST),
])
def test_served_topics_own_answers_and_events_are_not_strays(topic: str, payload: bytes) -> None:
    """Requests on served topics, the switch's answers and events, and other roots are never strays."""
    assert stray_hint(R, topic, payload) is None


@pytest.mark.parametrize(("topic", "meant", "channel", "sender"), [
    ("pos/T1/request", "pos/T1/req", "pos", "T1"),
    ("POS/T1/req", "pos/T1/req", "pos", "T1"),
    ("pos/T1", "pos/T1/req", "pos", "T1"),
    ("pos/T1/req/", "pos/T1/req", "pos", "T1"),
    ("apps/DH/req", "app/DH/req", "app", "DH"),
    ("admn/req", "admin/req", "admin", "admin"),
])
def test_a_request_on_an_unknown_topic_gets_the_topic_it_probably_meant(
        topic: str, meant: str, channel: str, sender: str) -> None:
    """Typos in channel, id or direction are answered with the served topic they most resemble."""
    assert stray_hint(R, f"{R}/{topic}", REQUEST) == (
        f"no switch listens on {R}/{topic}: did you mean {R}/{meant}? {SERVED}", channel, sender)


def test_an_unknown_topic_without_id_or_channel_says_what_is_served() -> None:
    """Without a sender id, or without a recognisable channel, the hint says which topics are served."""
    assert stray_hint(R, f"{R}/pos/req", REQUEST) == (
        f"no switch listens on {R}/pos/req: pos requests go to {R}/pos/{{id}}/req with the sender's id",
        "pos", None)
    assert stray_hint(R, f"{R}/settle", REQUEST) == (
        f"no switch listens on {R}/settle; it serves {R}/pos/{{terminal_id}}/req, {R}/app/{{psn_no}}/req "
        f"and {R}/admin/req", None, None)


def test_a_stray_that_is_not_a_request_says_so() -> None:
    """A non-request payload on an unknown topic is journaled; the hint says it is no envelope either."""
    found = stray_hint(R, f"{R}/pos/T1/request", b"hello")
    assert found is not None and found[0].endswith("; the payload is not a request envelope either")


def test_a_request_on_a_resp_topic_is_a_stray() -> None:
    """A request envelope on the answer topic is journaled with the request topic to use."""
    assert stray_hint(R, f"{R}/app/DH/resp", REQUEST) == (
        f"a request was published on the answer topic {R}/app/DH/resp; the switch reads requests only on "
        f"{R}/app/DH/req and answers on {R}/app/DH/resp", "app", "DH")


def heard(payload: bytes, *answers: bytes, hint: str | None = None) -> Heard:
    return Heard(1.0, None, f"{R}/pos/T1/req", "pos", "T1", payload, answers, 2.5, hint)


def answer(refmsgid: str | None, code: str = "INVALID_REQUEST", err_msg: str = "msgid: Field required"
           ) -> bytes:
    return json.dumps({"infno": "2102", "inf_refmsgid": refmsgid, "infcode": -1, "code": code,
                       "err_msg": err_msg, "output": {}}).encode()


@pytest.mark.parametrize(("payload", "why"), [
    (b"2102 DR 80", "the payload is not UTF-8 JSON"),
    (b"[1, 2]", "the payload is not a JSON object"),
    (b'{"infno": "2102"}', "the request has no msgid"),
    (b'{"infno": "2102", "msgid": 17}', "the msgid is a number, not a string"),
    (json.dumps({"msgid": "x" * 65}).encode(), "the msgid is 65 characters; 1-64 are allowed"),
])
def test_an_answer_without_refmsgid_says_why_the_msgid_was_unusable(payload: bytes, why: str) -> None:
    """inf_refmsgid null: the row says what was wrong with the msgid and that no client matches the answer."""
    row = row_of(heard(payload, answer(None)))
    assert row[10] == (f"{why}, so the answer carries inf_refmsgid null: a client waiting for its msgid "
                       "never matches it")
    assert (row[5], row[7], row[8]) == ("2102", "INVALID_REQUEST", 1)


def test_row_outcomes_no_answer_refusal_success_and_duplicates() -> None:
    """No answer, a refusal (its err_msg), success (no hint) and a doubled answer are told apart."""
    assert row_of(heard(REQUEST))[8:11] == (
        0, 2.5, "the switch published no answer (a fault rule dropped the request or its answer, or the switch "
                "stopped first); send it again with the same msgid: an answer that was recorded comes back as "
                "it was, otherwise the request is handled afresh")
    refused = answer("T1-1", "PERSON_NOT_FOUND", "参保人 DR 不存在")
    assert row_of(heard(REQUEST, refused))[6:11] == ("T1-1", "PERSON_NOT_FOUND", 1, 2.5, "参保人 DR 不存在")
    assert row_of(heard(REQUEST, ANSWER))[6:11] == ("T1-1", "OK", 1, 2.5, None)
    assert row_of(heard(REQUEST, ANSWER, ANSWER))[10] == "answered 2 times"


def test_payloads_are_cut_to_the_limit_and_sizes_kept() -> None:
    """Request and answer are stored up to the limit; their full sizes are kept beside them."""
    big = json.dumps({"infno": "admin.load", "msgid": "m", "input": {"x": "y" * 9000}}).encode()
    row = row_of(heard(big, ANSWER), limit=100)
    assert (row[11], row[12], row[13], row[14]) == (big[:100], len(big), ANSWER[:100], len(ANSWER))
    assert (row[5], row[6]) == ("2102", "T1-1")  # read from the answer, which names them


def test_journal_buffer_prunes_after_a_tenth_of_its_bound() -> None:
    """The bound is kept in steps of a tenth: prune is due once that many rows were taken since the last."""
    journal = Journal(max_rows=100)
    for _ in range(9):
        journal.record(heard(REQUEST))
    assert (journal.pending, len(journal.take()), journal.prune_due()) == (9, 9, False)
    journal.record(heard(REQUEST))
    journal.take()
    assert journal.prune_due()
    journal.pruned()
    assert not journal.prune_due() and journal.pending == 0
    with pytest.raises(ValueError, match="at least one row"):
        Journal(max_rows=0)


@pytest.mark.parametrize("payload", [REQUEST, b'{"infno": "2102"}', b"not json"])
def test_a_refused_topic_id_is_blamed_on_the_topic_not_the_msgid(payload: bytes) -> None:
    """An answer refusing the topic's id gets a hint about that id, whatever the msgid was."""
    refusal = json.dumps({"infno": None, "inf_refmsgid": None, "infcode": -1, "code": "INVALID_REQUEST",
                          "err_msg": "topic id 'T 1' must be 1-64 characters of A-Za-z0-9_-",
                          "output": {"errors": [{"loc": ["topic"], "msg": "bad id"}]}}).encode()
    row = row_of(Heard(1.0, None, f"{R}/pos/T 1/req", "pos", "T 1", payload, (refusal,), 2.5))
    assert row[10] == (f"the topic id 'T 1' in {R}/pos/T 1/req is not 1-64 characters of A-Za-z0-9_-, so the "
                       "request was refused without being read; publish under an id of that form")


def test_rows_keep_a_lone_surrogate_as_its_escape_and_ascii_as_it_is() -> None:
    """A hostile msgid with a lone surrogate is stored as its escape (SQLite text must be UTF-8); ASCII is untouched."""
    from switch.journal.table import rows_of

    hostile = b'{"infno": "2102", "msgid": "T1-\\ud800", "input": {}}'
    slow = Heard(1.0, None, f"{R}/pos/T1/req", "pos", "T1", hostile, (ANSWER,))
    fast = Heard(1.0, None, f"{R}/pos/T1/req", "pos", "T1", REQUEST, (ANSWER,), said=("T1", "2102", "T1-\ud800"))
    plain = Heard(1.0, None, f"{R}/pos/T1/req", "pos", "T1", REQUEST, (ANSWER,), said=("T1", "2102", "T1-1"))
    rows = rows_of([slow, fast, plain], 4096)
    assert [row[6] for row in rows] == ["T1-1", "T1-\\ud800", "T1-1"]  # the slow row's msgid is the answer's
    assert rows_of([Heard(1.0, None, f"{R}/pos/T1/req", "pos", "T1-\ud800", hostile, ())], 4096)[0][4] == "T1-\\ud800"
    assert rows[2][4] is plain.sender  # ASCII text is kept as the same object, not copied
