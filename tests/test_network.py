"""Classifying the network's answers, and the real call over loopback to the sandbox."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from leadkit.lead import Lead
from leadkit.network import NetworkClient, classify, operator_hint
from leadkit.form import Order
from leadkit.payload import build_payload
from leadkit.phone import parse_phone
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.visitor import Visitor
from support import KEY, make_config


def body(**fields: object) -> str:
    return json.dumps(fields)


@pytest.mark.parametrize(("status", "headers", "text", "outcome", "error"), [
    pytest.param(200, {}, body(status="ok", id=1234), "delivered", None, id="ok"),
    pytest.param(200, {}, body(status="ok", id=1, uid="9", url="https://cab.example/x"), "delivered", None,
                 id="ok-ext-autologin"),
    pytest.param(200, {}, body(status="error", error="db"), "retryable", "db", id="db"),
    pytest.param(200, {}, body(status="error", error="request-error"), "retryable", "request-error",
                 id="request-error"),
    pytest.param(200, {}, body(status="error", error="ban", message="Banned"), "rejected", "ban", id="ban"),
    pytest.param(200, {}, body(status="error", error="duplicate"), "rejected", "duplicate", id="duplicate"),
    pytest.param(200, {}, body(status="error", error="key"), "rejected", "key", id="bad-key"),
    pytest.param(200, {}, body(status="error", error="nophone", bad=["phone"]), "rejected", "nophone",
                 id="nophone"),
    pytest.param(400, {}, body(status="error"), "rejected", "http-400", id="4xx-json-without-code"),
    pytest.param(200, {}, body(status="weird"), "rejected", "unknown", id="unknown-status"),
    pytest.param(502, {}, "<html>bad gateway</html>", "retryable", "http-502", id="502"),
    pytest.param(500, {}, body(status="ok", id=1), "retryable", "http-500", id="500-even-with-ok-body"),
    pytest.param(429, {"Retry-After": "7"}, "", "retryable", "http-429", id="429"),
    pytest.param(200, {}, "<html>oops</html>", "retryable", "not-json", id="html-body"),
    pytest.param(200, {}, b"\xff\xfe garbage", "retryable", "not-json", id="binary-body"),
    pytest.param(200, {}, "[1, 2]", "retryable", "not-json", id="json-list"),
    pytest.param(200, {}, "", "retryable", "not-json", id="empty"),
])
def test_classify(status: int, headers: dict[str, str], text: str | bytes, outcome: str, error: str | None) -> None:
    answer = classify(status, headers, text)
    assert (answer.outcome, answer.error) == (outcome, error)


def test_classify_keeps_what_the_customer_and_operator_need() -> None:
    ok = classify(200, {}, body(status="ok", id=77, uid="u-5", url="https://cab.example/a?t=1"))
    assert (ok.network_id, ok.uid, ok.url) == ("77", "u-5", "https://cab.example/a?t=1")
    refused = classify(200, {}, body(status="error", error="data", bad=["ip"], info="x", message="Fix it"))
    assert (refused.message, refused.bad, refused.info) == ("Fix it", ("ip",), "x")
    assert "['ip']" in refused.detail


@pytest.mark.parametrize(("header", "expected"), [
    pytest.param("30", 30.0, id="seconds"),
    pytest.param("999999", 3600.0, id="capped"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="date-in-the-past"),
    pytest.param("soon", None, id="garbage"),
])
def test_retry_after(header: str, expected: float | None) -> None:
    assert classify(503, {"Retry-After": header}, "").retry_after == expected


def lead() -> Lead:
    order = Order(name="Aigerim", phone=parse_phone("87001234567", ["KZ"]))
    return Lead(order=order, visitor=Visitor("203.0.113.7", "test-agent", False), tags={"sub1": "x"})


def test_real_call_delivers_with_the_key_in_the_query_and_a_form_body(network: SandboxNetwork) -> None:
    config = make_config("wm", "dalead", api=network.url)
    client = NetworkClient(config.network, user_agent="leadkit/test")
    answer = client.send(build_payload(lead(), config))
    assert answer.delivered and answer.network_id and answer.url
    received = network.leads[-1]
    assert received.call == "wm/push"
    assert received.content_type.startswith("application/x-www-form-urlencoded")
    assert received.user_agent == "leadkit/test"
    assert received.fields["sub1"] == "x" and received.fields["flow"] == "42"


def test_one_session_is_reused_for_keep_alive(network: SandboxNetwork) -> None:
    config = make_config("comp", "moe", api=network.url)
    client = NetworkClient(config.network)
    for _ in range(3):
        client.send(build_payload(lead(), config))
    assert len(network.leads) == 3
    assert client.session.adapters["http://"].poolmanager.pools, "the pool holds the connection between calls"


def test_wrong_key_is_rejected(network: SandboxNetwork) -> None:
    config = make_config("wm", "dalead", api=network.url, network={"key": "1-not-the-key"})
    answer = NetworkClient(config.network).send(build_payload(lead(), config))
    assert (answer.outcome, answer.error) == ("rejected", "key")


@pytest.mark.parametrize("how", ["502", "503", "429", "garbage", "db"])
def test_network_failures_are_retryable(network: SandboxNetwork, how: str) -> None:
    config = make_config("ext", "dalead", api=network.url)
    network.fail_next(1, how)
    answer = NetworkClient(config.network).send(build_payload(lead(), config))
    assert answer.retryable, answer


def test_timeout_is_retryable_and_bounded(network: SandboxNetwork) -> None:
    config = make_config("wm", "dalead", api=network.url, network={"timeout": 0.3})
    network.fail_next(1, "hang", retry_after=2)
    answer = NetworkClient(config.network).send(build_payload(lead(), config))
    assert (answer.outcome, answer.error) == ("retryable", "timeout")
    assert answer.elapsed < 1.5


def test_dropped_connection_is_retryable_though_the_lead_arrived(network: SandboxNetwork) -> None:
    config = make_config("wm", "dalead", api=network.url)
    network.fail_next(1, "drop")
    answer = NetworkClient(config.network).send(build_payload(lead(), config))
    assert (answer.outcome, answer.error) == ("retryable", "transport")
    assert len(network.accepted()) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_never_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    config = make_config("wm", "dalead", api=f"http://127.0.0.1:{closed_port()}/api")
    caplog.set_level(logging.DEBUG)
    answer = NetworkClient(config.network).send(build_payload(lead(), config))
    assert (answer.outcome, answer.error) == ("retryable", "transport")
    assert "could not reach" in answer.detail
    assert KEY not in answer.detail
    assert all(KEY not in record.getMessage() for record in caplog.records)


def test_urllib3_debug_lines_are_scrubbed(network: SandboxNetwork, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config("wm", "dalead", api=network.url)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    NetworkClient(config.network).send(build_payload(lead(), config))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("push.json?id=***" in line for line in lines), lines
    assert all(KEY not in line for line in lines)


@pytest.mark.parametrize(("code", "says"), [
    ("key", "network.key"), ("badflow", "offer.flow"), ("offer", "offer"), ("no-api", "enable"),
])
def test_operator_hints_say_what_to_fix(code: str, says: str) -> None:
    assert says in operator_hint(code)


def test_customer_errors_need_no_operator() -> None:
    assert operator_hint("phone") == operator_hint("ban") == operator_hint(None) == ""
