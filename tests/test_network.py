"""The real lead call over loopback to the sandbox."""

from __future__ import annotations

import logging
import socket

import pytest

from leadkit.lead import Lead
from leadkit.network import NetworkClient
from leadkit.form import Order
from leadkit.payload import build_payload
from leadkit.phone import parse_phone
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.visitor import Visitor
from support import KEY, make_config


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
    assert client.session.get_adapter(client.url).poolmanager.pools, "the pool holds the connection between calls"


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
