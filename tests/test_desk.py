"""The order desk with the effects it is handed: a journal (real, or failing on demand) and a send
that answers what each test says. What the customer is told when the journal cannot be written,
and whom the rate limits count."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

from failing_journal import FailingJournal
from leadkit.answer import Answer
from leadkit.config import CALLS, Config
from leadkit.desk import RETRY_AFTER, OrderDesk, OrderResult, Submission
from leadkit.formtoken import FormTokens
from leadkit.journal import SQLiteJournal
from leadkit.relay import Courier, RetryPolicy
from leadkit.texts import TEXTS
from leadkit.visitor import Visitor
from support import make_config

ORDER = {"name": "Aigerim", "phone": "8 (700) 123-45-67"}
PHONE = "77001234567"
THANKS = "/leadkit/thanks"
CABINET = "https://cabinet.example/login?t=1"
CUSTOMER = "203.0.113.9"

DELIVERED = Answer("delivered", network_id="1001", url=CABINET, detail="accepted as network id 1001")


class Network:
    """The send the desk and its courier are handed: records each payload, answers ``answer``."""

    def __init__(self, answer: Answer = DELIVERED) -> None:
        self.answer = answer
        self.sent: list[dict[str, Any]] = []

    def __call__(self, payload: Mapping[str, Any]) -> Answer:
        self.sent.append(dict(payload))
        return self.answer


def make_desk(journal: Any, network: Network, config: Config | None = None) -> OrderDesk:
    config = config or make_config()
    courier = Courier(journal, network, RetryPolicy(config.journal.retry_base, config.journal.retry_cap),
                      lease=config.journal.lease)
    return OrderDesk(config, journal, courier, FormTokens(config.site.secret), CALLS[config.network.role],
                     send=network)


def post(desk: OrderDesk, fields: Mapping[str, str] = ORDER, ip: str = CUSTOMER) -> OrderResult:
    return desk.take(Submission(fields=fields, tags={"utm_source": "fb"}, visitor=Visitor(ip, "UA", False),
                                host="landing.example", thanks_url=THANKS, origin="https://landing.example"))


@pytest.fixture()
def real_journal(tmp_path: Path) -> Iterator[SQLiteJournal]:
    journal = SQLiteJournal(tmp_path / "leadkit.db")
    yield journal
    journal.close()


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- a journal that cannot take the lead: one direct attempt, thanks only when the network has it --------

@pytest.mark.parametrize(("answer", "status", "redirect", "message"), [
    pytest.param(DELIVERED, 303, CABINET, None, id="delivered-autologin"),
    pytest.param(Answer("delivered", network_id="7"), 303, THANKS, None, id="delivered-thanks"),
    pytest.param(Answer("delivered", network_id="7", url="javascript:alert(1)"), 303, THANKS, None,
                 id="delivered-unsafe-url-thanks"),
    pytest.param(Answer("rejected", error="duplicate"), 303, THANKS, None, id="network-has-it-already"),
    pytest.param(Answer("rejected", error="ban", message="Not for you."), 422, None, "Not for you.",
                 id="refused-with-a-message"),
    pytest.param(Answer("rejected", error="key"), 503, None, TEXTS["network_unavailable"], id="site-problem"),
    pytest.param(Answer("retryable", error="http-502", detail="the network answered HTTP 502"), 503, None,
                 TEXTS["order_not_taken"], id="network-down-too"),
    pytest.param(Answer("retryable", error="timeout", detail="no complete answer"), 503, None,
                 TEXTS["order_not_taken"], id="no-answer"),
])
def test_a_lead_the_journal_cannot_take_is_sent_directly_once(
        real_journal: SQLiteJournal, caplog: pytest.LogCaptureFixture, answer: Answer, status: int,
        redirect: str | None, message: str | None) -> None:
    journal, network = FailingJournal(real_journal, "add"), Network(answer)
    result = post(make_desk(journal, network))
    assert (result.reply.status, result.reply.redirect, result.reply.message) == (status, redirect, message)
    assert [payload["phone"] for payload in network.sent] == [PHONE], "one attempt, the same payload"
    assert network.sent[0]["utm_source"] == "fb" and network.sent[0]["flow"] == 42
    assert result.values["name"] == "Aigerim" and result.values["phone"] == ORDER["phone"], "values kept"
    assert result.retry_after == (RETRY_AFTER if status == 503 else None)
    assert real_journal.stats()["counts"]["pending"] == 0, "nothing was written"


def test_the_operator_is_told_what_to_fix_and_never_the_phone(real_journal: SQLiteJournal,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    journal = FailingJournal(real_journal, "add", reason="read-only", fix="make the file writable")
    post(make_desk(journal, Network(Answer("retryable", error="http-502", detail="the network answered HTTP 502"))))
    (line,) = errors_logged(caplog)
    assert str(real_journal.path) in line and "read-only" in line and "make the file writable" in line
    assert "HTTP 502" in line and "send it again" in line
    assert all(PHONE not in r.getMessage() and "700) 123" not in r.getMessage() for r in caplog.records)


def test_anything_else_a_journal_raises_is_handled_alike_without_its_text(
        real_journal: SQLiteJournal, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FailingJournal):
        def add(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"row for {PHONE} rejected")  # a journal of someone else's, quoting the row

    result = post(make_desk(Broken(real_journal), Network()))
    assert (result.reply.status, result.reply.redirect) == (303, CABINET)
    (line,) = errors_logged(caplog)
    assert "RuntimeError" in line and PHONE not in line


# -- the journal failing after the lead was written: the customer still gets the truth ----------------

def test_a_delivered_lead_whose_outcome_cannot_be_recorded_still_goes_to_autologin(
        real_journal: SQLiteJournal) -> None:
    journal, network = FailingJournal(real_journal, "record", "get"), Network()
    result = post(make_desk(journal, network))
    assert (result.reply.status, result.reply.redirect) == (303, CABINET)
    assert len(network.sent) == 1
    (entry,) = real_journal.entries()
    assert entry.state == "pending" and entry.lease_owner, "kept, leased: the relay finds it once the lease ends"


def test_a_written_lead_whose_attempt_cannot_be_recorded_is_safe_and_thanked(real_journal: SQLiteJournal) -> None:
    journal = FailingJournal(real_journal, "record", "get")
    result = post(make_desk(journal, Network(Answer("retryable", error="http-502", detail="HTTP 502"))))
    assert (result.reply.status, result.reply.redirect) == (303, THANKS)
    assert real_journal.stats()["counts"]["pending"] == 1


def test_a_double_submit_whose_first_attempt_cannot_be_read_back_is_thanked(real_journal: SQLiteJournal) -> None:
    journal, network = FailingJournal(real_journal), Network(Answer("retryable", error="http-502", detail="502"))
    first = post(make_desk(journal, network))
    (entry,) = real_journal.entries()
    # Another sender holds the lead now, mid-attempt: the second post waits for it, reading the journal.
    assert real_journal.claim(entry.id, owner="another-sender", lease=60, force=True)
    journal.failing = {"get"}
    again = post(make_desk(journal, network))
    assert first.reply.redirect == THANKS and (again.reply.status, again.reply.redirect) == (303, THANKS)
    assert len(network.sent) == 1 and "get" in journal.calls


# -- counters the journal cannot write cost the count, not the answer ------------------------------

def test_a_bot_is_thanked_though_its_counter_cannot_be_written(real_journal: SQLiteJournal,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    journal, network = FailingJournal(real_journal, "count"), Network()
    result = post(make_desk(journal, network), {**ORDER, "website": "http://spam.example"})
    assert (result.reply.status, result.reply.redirect) == (303, THANKS) and network.sent == []
    assert any("bots_honeypot" in r.getMessage() and "disk full" in r.getMessage() for r in caplog.records)


def test_the_rate_limit_holds_though_its_counter_cannot_be_written(real_journal: SQLiteJournal) -> None:
    journal, network = FailingJournal(real_journal, "count"), Network()
    desk = make_desk(journal, network, make_config(limits={"ip_orders": 1}))
    post(desk)
    refused = post(desk, {**ORDER, "phone": "8 (701) 123-45-67"})
    assert refused.reply.status == 429 and refused.retry_after and len(network.sent) == 1


# -- whom the rate limits count ------------------------------------------------------------------------

@pytest.mark.parametrize(("first", "second", "refused"), [
    pytest.param("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True, id="ipv6-same-64-is-one-client"),
    pytest.param("2001:db8:1:2::1", "2001:db8:1:3::1", False, id="ipv6-other-64-is-another-client"),
    pytest.param("198.51.100.1", "198.51.100.2", False, id="ipv4-each-address"),
    pytest.param("198.51.100.1", "198.51.100.1", True, id="ipv4-same-address"),
])
def test_the_ip_limit_counts_ipv6_per_64(real_journal: SQLiteJournal, first: str, second: str,
                                          refused: bool) -> None:
    desk = make_desk(real_journal, Network(), make_config(limits={"ip_orders": 1}))
    assert post(desk, ip=first).reply.status == 303
    assert post(desk, {**ORDER, "phone": "8 (701) 123-45-67"}, ip=second).reply.status == (429 if refused else 303)


def test_someone_else_s_orders_cannot_lock_a_customer_s_phone_out(real_journal: SQLiteJournal) -> None:
    network = Network()
    desk = make_desk(real_journal, network, make_config(limits={"phone_orders": 2}))
    prankster = [post(desk, {**ORDER, "name": f"Prank {n}"}, ip="198.51.100.66") for n in range(3)]
    assert [r.reply.status for r in prankster] == [303, 303, 429], "the same phone from one client is limited"
    customer = post(desk, {**ORDER, "name": "Aigerim N."}, ip=CUSTOMER)
    assert customer.reply.status == 303 and len(network.sent) == 3


def test_the_journal_keeps_no_bare_hash_of_a_phone_or_an_address(real_journal: SQLiteJournal) -> None:
    post(make_desk(real_journal, Network()), ip="2001:db8:1:2::1")
    with sqlite3.connect(real_journal.path) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM hits")]
    bare = {hashlib.sha256(text.encode()).hexdigest() for text in (PHONE, "2001:db8:1:2::/64", "2001:db8:1:2::1")}
    assert len(keys) == 2 and not bare & set(keys)
    assert not any(PHONE in key or "2001" in key for key in keys)
