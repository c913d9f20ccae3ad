"""The real lead call over loopback to the sandbox."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlencode

import pytest

from leadkit.journal import Entry
from leadkit.lead import Lead
from leadkit.network import NetworkClient, _KeyScrubber
from leadkit.form import Order
from leadkit.payload import build_payload
from leadkit.phone import parse_phone
from leadkit.relay import RetryPolicy, outcome_for
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.visitor import Visitor
from rawserver import RawServer, answer
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


def test_the_connections_are_reused_for_keep_alive(network: SandboxNetwork) -> None:
    config = make_config("comp", "moe", api=network.url)
    client = NetworkClient(config.network)
    for _ in range(3):
        client.send(build_payload(lead(), config))
    assert len(network.leads) == 3
    assert client.http.pools() == 1, "one pool holds the connection between calls"


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


# -- the key, however a URL spells it ---------------------------------------------------------------


def percent(text: str, case: str = "upper") -> str:
    """Every character percent-encoded, in upper or lower case hex."""
    encoded = "".join(f"%{byte:02X}" for byte in text.encode())
    return encoded if case == "upper" else encoded.lower()


SPACED = "9-0f3a 9c2e"


@pytest.mark.parametrize(("key", "spelt"), [
    pytest.param(KEY, KEY, id="as-it-is"),
    pytest.param(KEY, KEY.replace("-", "%2D"), id="dash-upper-hex"),
    pytest.param(KEY, KEY.replace("-", "%2d"), id="dash-lower-hex"),
    pytest.param(KEY, percent(KEY), id="every-character-upper-hex"),
    pytest.param(KEY, percent(KEY, "lower"), id="every-character-lower-hex"),
    pytest.param(KEY, "".join(percent(c) if i % 2 else c for i, c in enumerate(KEY)), id="mixed"),
    pytest.param(SPACED, SPACED.replace(" ", "+"), id="plus-for-space"),
    pytest.param(SPACED, SPACED.replace(" ", "%20"), id="space-hex"),
    pytest.param("5-ab/cd+ef=ку", urlencode({"id": "5-ab/cd+ef=ку"})[3:], id="as-requests-encodes-it"),
])
def test_the_scrubber_masks_the_key_however_it_is_spelt(key: str, spelt: str) -> None:
    _KeyScrubber.install(key)
    line = f'http://127.0.0.1:9 "POST /api/wm/push.json?id={spelt} HTTP/1.1" 200 42'
    assert _KeyScrubber.mask(line) == 'http://127.0.0.1:9 "POST /api/wm/push.json?id=*** HTTP/1.1" 200 42'
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, '%s "%s %s %s" %s %s',
                               ("http://127.0.0.1:9", "POST", f"/api/wm/push.json?id={spelt}", "HTTP/1.1", 200, 42),
                               None)
    assert _KeyScrubber().filter(record) and "id=***" in record.getMessage() and spelt not in record.getMessage()


def test_the_client_s_own_texts_mask_an_encoded_key() -> None:
    config = make_config("wm", "dalead", network={"key": "6-0f3a/9c+2e"})
    client = NetworkClient(config.network)
    assert client.scrub("GET /api/wm/push.json?id=6-0f3a%2F9c%2b2e failed") == "GET /api/wm/push.json?id=*** failed"


def test_urllib3_debug_lines_never_show_a_key_requests_had_to_encode(caplog: pytest.LogCaptureFixture) -> None:
    key = "8-0f3a/9c+2e=7b"
    with SandboxNetwork(keys=[key], offers={217: [42]}) as network:
        config = make_config("wm", "dalead", api=network.url, network={"key": key})
        caplog.set_level(logging.DEBUG, logger="urllib3")
        answer = NetworkClient(config.network).send(build_payload(lead(), config))
    assert answer.delivered, "the sandbox knew the key: it was sent as it is"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("push.json?id=*** " in line for line in lines), lines
    spellings = (key, urlencode({"id": key})[3:], urlencode({"id": key})[3:].lower())
    assert not [line for line in lines for spelt in spellings if spelt in line]


def test_a_network_that_echoes_the_key_gets_it_masked_in_every_text_of_the_answer() -> None:
    key = "3-5eed0f3a/9c2e"  # the suite's own key must not reach a test's HTTP answers at all
    with SandboxNetwork(keys=[key], offers={217: [42]}) as network:
        config = make_config("wm", "dalead", api=network.url, network={"key": key})
        network.fail_next(1, "key", message=f"The key {key} (sent as {urlencode({'id': key})}) is not valid",
                          info=f"key {key}")
        answer = NetworkClient(config.network).send(build_payload(lead(), config))
    assert (answer.outcome, answer.error) == ("rejected", "key")
    assert answer.message == "The key *** (sent as id=***) is not valid" and answer.info == "key ***"
    assert "5eed0f3a" not in answer.detail and "***" in answer.detail


def test_a_lead_sent_again_after_a_kept_alive_connection_closed_and_answered_duplicate_is_delivered() -> None:
    """The network answers one lead, then reads the next on the same kept-alive connection and
    closes it without a word (as if it had stored the lead and crashed); on the new connection it
    says ``duplicate``. The resend is known, so the lead counts as delivered, not refused."""
    def script(conn: socket.socket) -> None:
        if server.connections == 1:
            conn.sendall(answer(b'{"status":"ok","id":1001}', "Content-Type: application/json"))
            server.read_request(conn)  # the second lead, read and never answered
        else:
            conn.sendall(answer(b'{"status":"error","error":"duplicate"}', "Content-Type: application/json"))

    server = RawServer(script)
    try:
        config = make_config("wm", "dalead", api=server.url.rsplit("/", 2)[0])
        client = NetworkClient(config.network)
        first, second = (client.send(build_payload(lead(), config)) for _ in range(2))
    finally:
        server.close()
    assert first.delivered and first.network_id == "1001" and not first.resent
    assert second.resent and (second.outcome, second.error) == ("rejected", "duplicate")
    assert outcome_for(second, Entry(id="1", call="wm/push", payload={}), RetryPolicy()).state == "delivered"
    assert server.connections == 2 and server.requests == 3
