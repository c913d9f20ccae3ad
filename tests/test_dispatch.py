"""Tests for leadkit.dispatch: the outbox sent over real loopback sockets to a stand-in tracker,
Graph API and Events API, on a journal whose clock the test moves."""

from __future__ import annotations

import json
import logging
import threading
import time
from email.utils import formatdate
from typing import Any, Callable, Iterator

import pytest

from leadkit.dispatch import Dispatcher
from leadkit.journal import SQLiteJournal
from leadkit.journal_outbox import Message
from standins import StandIn
from support import T0, FakeClock

FB_TOKEN = "EAAB-facebook-token-0123456789"
TT_TOKEN = "tiktok-token-abcdef0123456789"
TOKENS = {"facebook": FB_TOKEN, "tiktok": TT_TOKEN}
PIXEL = "123456789012345"
EVENT = {"data": [{"event_name": "Lead", "event_time": 1700000000, "event_id": "L1", "action_source": "website"}]}
TAGS = "clickid=a1b2c3-tag&sub1=campaign-secret-tag"  # a postback's query: the visit's tags, never logged
LONG = 7 * 86400.0  # past any backoff the default policy picks


def postback(stand_in: StandIn, lead_id: str = "L1", *, path: str = "/postback", query: str = TAGS,
             method: str = "GET", event: str = "lead") -> Message:
    url = f"{stand_in.url}{path}" + (f"?{query}" if query and method == "GET" else "")
    if method == "POST":
        return Message(lead_id=lead_id, target="postback:1", event=event, method="POST", url=url, body=query,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    return Message(lead_id=lead_id, target="postback:1", event=event, method="GET", url=url)


def facebook(stand_in: StandIn, lead_id: str = "L1") -> Message:
    return Message(lead_id=lead_id, target="facebook", event="lead", method="POST",
                   url=f"{stand_in.url}/v21.0/{PIXEL}/events", body=json.dumps(EVENT),
                   headers={"Content-Type": "application/json"})


def tiktok(stand_in: StandIn, lead_id: str = "L1") -> Message:
    return Message(lead_id=lead_id, target="tiktok", event="lead", method="POST",
                   url=f"{stand_in.url}/open_api/v1.3/event/track/", body=json.dumps(EVENT),
                   headers={"Content-Type": "application/json"})


def only(journal: SQLiteJournal) -> Message:
    (message,) = journal.messages()
    return message


def outbox_text(journal: SQLiteJournal) -> str:
    """Every column of every outbox row, as one text to search."""
    rows = journal._connection().execute("SELECT * FROM outbox").fetchall()
    return repr([tuple(row) for row in rows]) + repr(list(journal.messages()))


def logged(caplog: pytest.LogCaptureFixture, name: str = "") -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(name)]


@pytest.fixture()
def stand_in() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture()
def make_dispatcher(journal: SQLiteJournal, clock: FakeClock) -> Iterator[Callable[..., Dispatcher]]:
    """Dispatchers on the test's journal and clock (or another journal), with the tokens; closed after."""
    made: list[Dispatcher] = []

    def make(on: SQLiteJournal | None = None, **options: Any) -> Dispatcher:
        options = {"tokens": TOKENS, "timeout": 10.0, "clock": clock, **options}
        made.append(Dispatcher(journal if on is None else on, **options))
        return made[-1]

    yield make
    for dispatcher in made:
        dispatcher.close()


@pytest.fixture()
def dispatcher(make_dispatcher: Callable[..., Dispatcher]) -> Dispatcher:
    return make_dispatcher()


@pytest.fixture()
def records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# -- sent once --------------------------------------------------------------------------------


def test_a_get_postback_is_sent_once_and_never_again(stand_in: StandIn, journal: SQLiteJournal,
                                                      dispatcher: Dispatcher, clock: FakeClock) -> None:
    journal.enqueue([postback(stand_in)])
    assert dispatcher.run_due() == 1
    (request,) = stand_in.wait_for(1)
    assert (request.method, request.path, request.body) == ("GET", "/postback", b"")
    assert request.query == {"clickid": ["a1b2c3-tag"], "sub1": ["campaign-secret-tag"]}
    assert request.headers["User-Agent"] == "leadkit"
    message = only(journal)
    assert (message.state, message.answer, message.attempts, message.last_error) == ("sent", "HTTP 200", 1, None)

    assert dispatcher.run_due() == 0
    clock.advance(LONG)
    assert dispatcher.run_due() == 0
    assert len(stand_in.received) == 1 and only(journal).state == "sent"


def test_a_post_postbacks_form_body_arrives_as_written(stand_in: StandIn, journal: SQLiteJournal,
                                                        dispatcher: Dispatcher) -> None:
    body = "clickid=a1b2c3&status=approved&payout=12.5&note=caf%C3%A9+%26+tea&empty="
    journal.enqueue([postback(stand_in, method="POST", path="/track/postback.php", query=body)])
    assert dispatcher.run_due() == 1
    (request,) = stand_in.wait_for(1)
    assert (request.method, request.path, request.query) == ("POST", "/track/postback.php", {})
    assert request.body == body.encode("ascii")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"clickid": ["a1b2c3"], "status": ["approved"], "payout": ["12.5"],
                            "note": ["café & tea"], "empty": [""]}
    assert only(journal).state == "sent"


# -- tokens: added when sent, never kept, never told -------------------------------------------


def test_facebooks_token_rides_in_the_query_when_sent(stand_in: StandIn, journal: SQLiteJournal,
                                                      dispatcher: Dispatcher) -> None:
    journal.enqueue([facebook(stand_in)])
    assert dispatcher.run_due() == 1
    (request,) = stand_in.wait_for(1)
    assert request.path == f"/v21.0/{PIXEL}/events"
    assert request.query == {"access_token": [FB_TOKEN]}
    assert "Access-Token" not in request.headers
    assert request.headers["Content-Type"] == "application/json" and request.json == EVENT
    assert only(journal).state == "sent"


def test_tiktoks_token_rides_in_a_header_when_sent(stand_in: StandIn, journal: SQLiteJournal,
                                                   dispatcher: Dispatcher) -> None:
    stand_in.answer(200, {"code": 0, "message": "OK"})
    journal.enqueue([tiktok(stand_in)])
    assert dispatcher.run_due() == 1
    (request,) = stand_in.wait_for(1)
    assert request.path == "/open_api/v1.3/event/track/"
    assert request.headers["Access-Token"] == TT_TOKEN and request.query == {}
    assert request.headers["Content-Type"] == "application/json" and request.json == EVENT
    assert only(journal).state == "sent"


def test_a_postback_gets_no_token(stand_in: StandIn, journal: SQLiteJournal, dispatcher: Dispatcher) -> None:
    journal.enqueue([postback(stand_in)])
    dispatcher.run_due()
    (request,) = stand_in.wait_for(1)
    assert "access_token" not in request.query and "Access-Token" not in request.headers


ECHOES = [
    pytest.param(facebook, 400, {"error": {"message": f"Invalid OAuth access token: {FB_TOKEN}", "code": 190}},
                 "failed", id="facebook-400"),
    pytest.param(facebook, 500, {"error": {"message": f"Service down for token {FB_TOKEN}"}}, "pending",
                 id="facebook-500"),
    pytest.param(tiktok, 200, {"code": 40105, "message": f"Access-Token {TT_TOKEN} is invalid"}, "failed",
                 id="tiktok-code"),
    pytest.param(tiktok, 503, {"code": 50002, "message": f"busy, retry with {TT_TOKEN}"}, "pending",
                 id="tiktok-503"),
]


@pytest.mark.parametrize("build, status, said, state", ECHOES)
def test_a_token_echoed_back_is_kept_nowhere(stand_in: StandIn, journal: SQLiteJournal, dispatcher: Dispatcher,
                                             records: pytest.LogCaptureFixture, build: Callable[..., Message],
                                             status: int, said: dict[str, Any], state: str) -> None:
    stand_in.answer(status, said)
    journal.enqueue([build(stand_in)])
    dispatcher.run_due()
    stand_in.wait_for(1)
    message = only(journal)
    assert message.state == state
    assert message.last_error is not None and "***" in message.last_error  # what was said, the token masked
    text = outbox_text(journal)
    assert FB_TOKEN not in text and TT_TOKEN not in text
    told = [r.getMessage() for r in logged(records, "leadkit")]
    assert told and not [line for line in told if FB_TOKEN in line or TT_TOKEN in line]


@pytest.mark.parametrize("build", [facebook, tiktok])
def test_a_sent_events_token_is_in_no_row_and_no_leadkit_log(stand_in: StandIn, journal: SQLiteJournal,
                                                             dispatcher: Dispatcher, records: pytest.LogCaptureFixture,
                                                             build: Callable[..., Message]) -> None:
    stand_in.answer(200, {"code": 0, "events_received": 1})
    journal.enqueue([build(stand_in)])
    assert dispatcher.run_due() == 1
    assert only(journal).state == "sent"
    text = outbox_text(journal)
    assert FB_TOKEN not in text and TT_TOKEN not in text
    told = [r.getMessage() for r in logged(records, "leadkit")]
    assert told and not [line for line in told if FB_TOKEN in line or TT_TOKEN in line]


def test_no_log_record_at_all_carries_a_token(stand_in: StandIn, journal: SQLiteJournal, dispatcher: Dispatcher,
                                              records: pytest.LogCaptureFixture) -> None:
    stand_in.answer(200, {"code": 0})
    journal.enqueue([facebook(stand_in, "L1"), tiktok(stand_in, "L2")])
    assert dispatcher.run_due() == 2
    lines = [r.getMessage() for r in records.records]
    assert not [line for line in lines if FB_TOKEN in line or TT_TOKEN in line]


# -- tried again: no answer, or an answer that says later ---------------------------------------


def _answer_with(status: int, headers: dict[str, str] | None = None) -> Callable[[StandIn], None]:
    return lambda stand_in: stand_in.answer(status, b"try later", headers=headers, times=1)


RETRIED = [
    pytest.param(_answer_with(500), "HTTP 500", id="500"),
    pytest.param(_answer_with(502), "HTTP 502", id="502"),
    pytest.param(_answer_with(503), "HTTP 503", id="503"),
    pytest.param(_answer_with(408), "HTTP 408", id="408"),
    pytest.param(_answer_with(429), "HTTP 429", id="429"),
    pytest.param(lambda stand_in: stand_in.drop(times=1), "transport: ", id="dropped-connection"),
]


@pytest.mark.parametrize("misbehave, error", RETRIED)
def test_a_failure_that_may_pass_is_tried_again_later(stand_in: StandIn, journal: SQLiteJournal,
                                                      dispatcher: Dispatcher, clock: FakeClock,
                                                      misbehave: Callable[[StandIn], None], error: str) -> None:
    misbehave(stand_in)
    journal.enqueue([postback(stand_in)])
    assert dispatcher.run_due() == 1
    message = only(journal)
    assert (message.state, message.attempts) == ("pending", 1)
    assert message.last_error is not None and message.last_error.startswith(error)
    assert message.next_attempt is not None and message.next_attempt > clock()
    assert dispatcher.run_due() == 0  # not due yet

    clock.advance(message.next_attempt - clock())
    assert dispatcher.run_due() == 1
    assert len(stand_in.wait_for(2)) == 2
    message = only(journal)
    assert (message.state, message.attempts, message.answer, message.last_error) == ("sent", 2, "HTTP 200", None)


def test_a_timeout_is_tried_again_later(stand_in: StandIn, journal: SQLiteJournal, clock: FakeClock,
                                        make_dispatcher: Callable[..., Dispatcher]) -> None:
    stand_in.hold()
    journal.enqueue([postback(stand_in)])
    assert make_dispatcher(timeout=0.5).run_due() == 1
    stand_in.wait_for(1)
    message = only(journal)
    assert (message.state, message.attempts) == ("pending", 1)
    assert message.last_error is not None and message.last_error.startswith("timeout: ")
    assert message.next_attempt is not None and message.next_attempt > clock()

    stand_in.release()
    clock.advance(message.next_attempt - clock())
    assert make_dispatcher().run_due() == 1  # a patient sender: a busy machine is slow
    assert len(stand_in.wait_for(2)) == 2
    assert (only(journal).state, only(journal).attempts) == ("sent", 2)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(stand_in: StandIn, journal: SQLiteJournal, dispatcher: Dispatcher,
                                 clock: FakeClock, status: int) -> None:
    stand_in.answer(status, {"error": {"message": "slow down"}}, headers={"Retry-After": "120"}, times=1)
    journal.enqueue([postback(stand_in)])
    dispatcher.run_due()
    message = only(journal)
    assert message.state == "pending" and message.last_error == f"HTTP {status} (slow down)"
    assert message.next_attempt is not None and message.next_attempt >= T0 + 120

    clock.advance(119)
    assert dispatcher.run_due() == 0 and len(stand_in.received) == 1
    clock.advance(message.next_attempt - clock())
    assert dispatcher.run_due() == 1
    assert only(journal).state == "sent" and len(stand_in.received) == 2


def test_retry_after_as_a_date_is_honoured(stand_in: StandIn, journal: SQLiteJournal, dispatcher: Dispatcher,
                                           clock: FakeClock) -> None:
    in_half_an_hour = formatdate(time.time() + 1800, usegmt=True)  # the destination's own clock: the real one
    stand_in.answer(503, b"busy", headers={"Retry-After": in_half_an_hour}, times=1)
    journal.enqueue([postback(stand_in)])
    dispatcher.run_due()
    message = only(journal)
    assert message.state == "pending" and message.next_attempt is not None
    assert message.next_attempt >= clock() + 600  # the backoff alone would be 5 s at most


# -- given up: refused, or too old --------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_a_refusal_is_final_and_logged_without_the_query(stand_in: StandIn, journal: SQLiteJournal,
                                                         dispatcher: Dispatcher, clock: FakeClock,
                                                         records: pytest.LogCaptureFixture, status: int) -> None:
    stand_in.answer(status, b"<html>no such page</html>")
    journal.enqueue([postback(stand_in)])
    assert dispatcher.run_due() == 1
    message = only(journal)
    assert (message.state, message.answer, message.last_error) == ("failed", f"HTTP {status}", f"HTTP {status}")

    errors = [r.getMessage() for r in logged(records, "leadkit.dispatch") if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "postback:1" in errors[0] and "127.0.0.1" in errors[0] and f"HTTP {status}" in errors[0]
    told = " ".join(r.getMessage() for r in logged(records, "leadkit"))
    assert "a1b2c3-tag" not in told and "campaign-secret-tag" not in told and "clickid" not in told

    clock.advance(LONG)
    assert dispatcher.run_due() == 0 and len(stand_in.received) == 1


@pytest.mark.parametrize("said, state, error", [
    pytest.param({"code": 40001, "message": "Invalid parameter: event_source_id"}, "failed",
                 "TikTok code 40001 (Invalid parameter: event_source_id)", id="code-40001"),
    pytest.param({"code": "40002", "message": "No permission"}, "failed", "TikTok code 40002 (No permission)",
                 id="code-as-text"),
    pytest.param({"code": 0, "message": "OK", "data": {}}, "sent", None, id="code-0"),
])
def test_tiktok_says_in_its_json_whether_it_took_the_event(stand_in: StandIn, journal: SQLiteJournal,
                                                           dispatcher: Dispatcher, clock: FakeClock,
                                                           said: dict[str, Any], state: str, error: str | None) -> None:
    stand_in.answer(200, said)
    journal.enqueue([tiktok(stand_in)])
    assert dispatcher.run_due() == 1
    message = only(journal)
    assert (message.state, message.answer, message.last_error) == (state, "HTTP 200", error)
    clock.advance(LONG)
    assert dispatcher.run_due() == 0 and len(stand_in.received) == 1


def test_a_message_older_than_max_age_is_given_up(stand_in: StandIn, journal: SQLiteJournal, clock: FakeClock,
                                                  make_dispatcher: Callable[..., Dispatcher],
                                                  records: pytest.LogCaptureFixture) -> None:
    dispatcher = make_dispatcher(max_age=3600)
    journal.enqueue([postback(stand_in, "OLD", path="/old")])
    clock.advance(3000)
    journal.enqueue([postback(stand_in, "YOUNG", path="/young")])
    clock.advance(601)  # OLD is 3601 s old, YOUNG 601 s

    assert dispatcher.run_due() == 1
    assert [r.path for r in stand_in.received] == ["/young"]
    states = {m.lead_id: (m.state, m.last_error) for m in journal.messages()}
    assert states == {"OLD": ("failed", "never sent"), "YOUNG": ("sent", None)}
    errors = [r.getMessage() for r in logged(records, "leadkit.dispatch") if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "postback:1" in errors[0] and "OLD" in errors[0] and "given up" in errors[0]


def test_a_message_given_up_keeps_its_last_error(stand_in: StandIn, journal: SQLiteJournal, clock: FakeClock,
                                                 make_dispatcher: Callable[..., Dispatcher],
                                                 records: pytest.LogCaptureFixture) -> None:
    dispatcher = make_dispatcher(max_age=3600)
    stand_in.answer(503)
    journal.enqueue([postback(stand_in)])
    dispatcher.run_due()
    clock.advance(3601)
    assert dispatcher.run_due() == 0 and len(stand_in.received) == 1
    message = only(journal)
    assert (message.state, message.last_error, message.attempts) == ("failed", "HTTP 503", 1)
    errors = [r.getMessage() for r in logged(records, "leadkit.dispatch") if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "HTTP 503" in errors[0]


# -- leases: two senders on one journal file ---------------------------------------------------


def test_a_message_held_by_one_sender_is_not_sent_by_another(stand_in: StandIn, journal: SQLiteJournal,
                                                            clock: FakeClock,
                                                            make_dispatcher: Callable[..., Dispatcher]) -> None:
    other = SQLiteJournal(journal.path, clock=clock)
    try:
        first, second = make_dispatcher(), make_dispatcher(on=other)
        journal.enqueue([postback(stand_in)])
        stand_in.hold()
        sending = threading.Thread(target=first.run_due, daemon=True)
        sending.start()
        stand_in.wait_for(1)  # the first sender holds the lease and waits for its answer

        assert second.run_due() == 0
        stand_in.release()
        sending.join(30)
        assert not sending.is_alive()
        assert second.run_due() == 0
        assert len(stand_in.received) == 1 and only(journal).state == "sent"
    finally:
        other.close()


def test_a_dead_senders_lease_runs_out_and_another_sends(stand_in: StandIn, journal: SQLiteJournal,
                                                        clock: FakeClock,
                                                        make_dispatcher: Callable[..., Dispatcher]) -> None:
    other = SQLiteJournal(journal.path, clock=clock)
    try:
        journal.enqueue([postback(stand_in)])
        (claimed,) = journal.claim_messages(owner="dead-sender", lease=60, limit=1)  # and then it died
        second = make_dispatcher(on=other)
        assert second.run_due() == 0
        clock.advance(60)
        assert second.run_due() == 0  # the lease lasts to its last second
        clock.advance(1)
        assert second.run_due() == 1
        assert len(stand_in.wait_for(1)) == 1 and only(journal).state == "sent"

        # the dead sender comes back with its outcome: too late, the message stays sent, once
        assert not journal.record_message(claimed.id, owner="dead-sender", state="pending", error="timeout",
                                          next_attempt=clock() + 5)
        assert (only(other).state, only(other).attempts) == ("sent", 1)
        assert second.run_due() == 0 and len(stand_in.received) == 1
    finally:
        other.close()


# -- order -------------------------------------------------------------------------------------


def test_due_messages_go_out_oldest_first(stand_in: StandIn, journal: SQLiteJournal, clock: FakeClock,
                                          dispatcher: Dispatcher) -> None:
    journal.enqueue([postback(stand_in, "Z", path="/first")])
    clock.advance(1)
    journal.enqueue([postback(stand_in, "B", path="/second"), postback(stand_in, "A", path="/third")])
    clock.advance(1)
    journal.enqueue([facebook(stand_in, "C")])  # another target in the same queue
    clock.advance(1)

    assert dispatcher.run_due() == 4
    assert [r.path for r in stand_in.wait_for(4)] == ["/first", "/second", "/third", f"/v21.0/{PIXEL}/events"]
    assert {m.state for m in journal.messages()} == {"sent"}


def test_run_due_sends_at_most_limit(stand_in: StandIn, journal: SQLiteJournal, dispatcher: Dispatcher) -> None:
    journal.enqueue([postback(stand_in, f"L{i}", path=f"/p{i}") for i in range(3)])
    assert dispatcher.run_due(limit=2) == 2
    assert [r.path for r in stand_in.received] == ["/p0", "/p1"]
    assert dispatcher.run_due() == 1
    assert journal.outbox_counts() == {"pending": 0, "sent": 3, "failed": 0}
