"""Property-based fuzzing (hypothesis): random and hostile input never gets a 500, never lets an
exception escape, never shows the key or the secret.

``POST {mount}/order`` runs through ``LeadKit`` with the sandbox network upstream; the parsers
(tags, cookie, client IP, user agent, phone, order) are called directly.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import pytest

pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis: pip install -e '.[test]'")

from hypothesis import HealthCheck, event, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from leadkit import LeadKit  # noqa: E402
from leadkit.config import OPTIONAL_ORDER_FIELDS  # noqa: E402
from leadkit.formtoken import TOKEN_FIELD  # noqa: E402
from leadkit.form import FIELDS, read_order  # noqa: E402
from leadkit.phone import PhoneError, parse_phone  # noqa: E402
from leadkit.testing.sandbox import SandboxNetwork  # noqa: E402
from leadkit.tags import (MAX_TAG_LENGTH, STANDARD_TAGS, TagCookie, clean_value,  # noqa: E402
                          tags_from_query_string, tags_from_referer)
from leadkit.visitor import MAX_USER_AGENT_LENGTH, client_ip, is_mobile, make_visitor, normalize_ip  # noqa: E402
from support import KEY, SECRET, BrowserClient, make_config  # noqa: E402

# No example database: the suite writes nothing into the checkout. A failure found here is kept
# as an explicit @example instead.
FUZZ = settings(database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECRETS = (KEY, SECRET)
PROMO = "https://promo.example"
ALIASES = {"clickid": "subid", "campaign": "utm_campaign"}
TAG_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# -- the application under test ---------------------------------------------------

def landing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"landing"]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture(scope="module")
def records() -> Iterator[_Records]:
    """Every leadkit log record, with its traceback, to check that no secret is logged."""
    logger = logging.getLogger("leadkit")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope="module")
def kit(sandbox: SandboxNetwork) -> LeadKit:
    """No rate limits and no minimum fill time, so that every path behind them is reachable."""
    sandbox.reset()
    config = make_config(api=sandbox.url, network={"timeout": 1},
                         site={"min_fill_seconds": 0, "allowed_origins": [PROMO], "trusted_proxies": 1,
                               "ip_header": "CF-Connecting-IP", "trusted_networks": ["127.0.0.0/8", "10.0.0.0/8"]},
                         limits={"ip_orders": 0, "phone_orders": 0},
                         form={"fields": list(OPTIONAL_ORDER_FIELDS)},
                         tags={"aliases": ALIASES},
                         journal={"relay": False, "double_submit": 0})
    return LeadKit(landing, config)


@pytest.fixture(scope="module")
def client(kit: LeadKit) -> BrowserClient:
    return BrowserClient(kit)


def check_response(response: Any, records: _Records) -> None:
    body = response.get_data()
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows which paths were reached
    assert response.status_code < 500, body[:2000]
    shown = body + str(response.headers).encode("latin-1", "replace")
    for secret in SECRETS:
        assert secret.encode() not in shown
        assert not any(secret in text for text in records.texts)
    records.texts.clear()


# -- strategies -------------------------------------------------------------------

#: Text as it can arrive in a header: latin-1 (WSGI's decoding of the raw bytes), no line breaks.
header_text = st.text(st.characters(max_codepoint=0xFF, exclude_characters="\r\n"), max_size=300)
any_text = st.text(st.characters(codec="utf-8"), max_size=300)
hostile_text = st.one_of(
    any_text,
    st.text(st.characters(max_codepoint=0x9F), max_size=50),  # C0 and C1 control characters
    st.text(st.sampled_from("<>\"'&%\\/;=+#?\x00\t\n\r\u202e\u200b\ufeffЯ😀"), max_size=50),
    st.text(st.characters(codec="utf-8"), min_size=1000, max_size=20000),  # past the body and field limits
    st.sampled_from(["", " ", "null", "None", "0", "-1", "1e309", "NaN", "<script>alert(1)</script>",
                     "{{7*7}}", "${jndi:ldap://x}", "' OR 1=1 --", "../../etc/passwd"]),
)
kz_phone = st.integers(0, 10**7 - 1).map(lambda n: f"+7700{n:07d}")
phone = st.one_of(kz_phone, kz_phone.map(lambda p: "8 (" + p[2:5] + ") " + p[5:8] + "-" + p[8:10] + "-" + p[10:]),
                  st.sampled_from(["77000000000", "+79161234567", "+996700123456", "+1 202 555 0143",
                                   "8", "+", "((()))", "0" * 40, "1" * 41]),
                  hostile_text)
field_name = st.one_of(st.sampled_from([*FIELDS, TOKEN_FIELD, "website", *STANDARD_TAGS, *ALIASES]),
                       st.text(st.characters(codec="utf-8"), max_size=20))
TOKEN = "\x00<issue a token>"  # replaced by a freshly issued, valid token when sent
field_value = st.one_of(hostile_text, st.just(TOKEN))
pairs = st.lists(st.tuples(field_name, field_value), max_size=12)
#: Orders that get past the form checks often enough to reach the journal and the network.
clean_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=120)
extra_name = st.sampled_from([n for n in (*FIELDS, TOKEN_FIELD, "website", *STANDARD_TAGS, *ALIASES)
                              if n not in ("name", "phone")])
plausible = st.builds(lambda name, number, extra: [("name", name), ("phone", number), *extra],
                      st.one_of(st.sampled_from(["Aigerim", "Айгерим"]), clean_text, hostile_text),
                      st.one_of(kz_phone, phone),
                      st.lists(st.tuples(extra_name, st.one_of(clean_text, clean_text, field_value)), max_size=6,
                               unique_by=lambda pair: pair[0]))

ORIGINS = ["http://localhost", "https://localhost", PROMO, "https://evil.example", "null", "http://localhost:5000"]
USER_AGENTS = ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
               "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
               "curl/8.0", "Googlebot/2.1"]
ACCEPTS = ["application/json", "text/html", "*/*", "application/json;q=0.9, text/html;q=0.1", "application/*"]
ip_text = st.one_of(st.ip_addresses().map(str), st.ip_addresses(v=6).map(lambda ip: f"[{ip}]:443"),
                    st.ip_addresses(v=4).map(lambda ip: f"{ip}:8080"), header_text)
headers = st.fixed_dictionaries({}, optional={
    "Origin": st.one_of(st.sampled_from(ORIGINS), header_text),
    "Referer": st.one_of(st.sampled_from(ORIGINS), header_text,
                         st.builds(lambda origin, query: f"{origin}/?{query}", st.sampled_from(ORIGINS),
                                   header_text)),
    "X-Forwarded-For": st.one_of(st.lists(ip_text, max_size=5).map(", ".join), header_text),
    "CF-Connecting-IP": ip_text,
    "User-Agent": st.one_of(st.sampled_from(USER_AGENTS), header_text),
    "Accept": st.one_of(st.sampled_from(ACCEPTS), header_text),
    "Cookie": st.one_of(header_text.map(lambda text: f"leadkit_tags={text}"), header_text),
    "Host": st.one_of(st.sampled_from(["localhost", "LOCALHOST", "localhost:80", "evil.example"]), header_text),
})
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
                 "multipart/form-data", "multipart/form-data; boundary=B", "multipart/form-data; boundary=",
                 "text/plain", "application/json", "", "multipart/mixed; boundary=B", "application/octet-stream"]
METHODS = ["POST", "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "BREW"]
PATHS = ["/leadkit/order", "/leadkit/order/", "/leadkit/ORDER", "/leadkit/form", "/leadkit/thanks",
         "/leadkit/health", "/leadkit", "/leadkit/nothing", "/leadkit//order"]


def _quoted(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs, quote_via=quote).encode()


def _part(name: bytes, value: bytes, filename: bytes | None, extra: bytes) -> bytes:
    name = re.sub(rb"[\r\n\\]", b"", name) or b"x"  # see test_multipart_part_without_a_name_is_refused
    disposition = b'form-data; name="' + name + b'"' + (b'; filename="' + filename + b'"' if filename is not None else b"")
    return b"--B\r\nContent-Disposition: " + disposition + b"\r\n" + extra + b"\r\n" + value + b"\r\n"


multipart_body = st.builds(
    lambda parts, end: b"".join(parts) + end,
    st.lists(st.builds(_part, st.one_of(st.sampled_from([b"name", b"phone", b"comment"]), st.binary(max_size=20)),
                       st.binary(max_size=200), st.none() | st.binary(max_size=20),
                       st.sampled_from([b"", b"Content-Type: text/plain\r\n", b"Content-Type: image/gif\r\n",
                                        b"X: \xff\r\n"])), max_size=6),
    st.sampled_from([b"--B--\r\n", b"--B--", b"--B", b""]))
raw_body = st.one_of(st.binary(max_size=2000), multipart_body,
                     st.lists(st.tuples(field_name, hostile_text), max_size=10).map(_quoted),
                     st.binary(min_size=16385, max_size=20000))


_NAMEABLE = re.compile(r"[\r\n\\]")


def _encode(fields: list[tuple[str, str]], kit: LeadKit) -> list[tuple[str, str]]:
    return [(name, kit.tokens.issue() if value == TOKEN else value) for name, value in fields]


# -- the order route --------------------------------------------------------------

@settings(FUZZ, max_examples=2000)
@given(fields=st.one_of(pairs, plausible, plausible), header_values=headers, as_multipart=st.booleans())
@example(fields=[("name", "Aigerim"), ("phone", "+77001234567")], header_values={}, as_multipart=False)
@example(fields=[("name", "Aigerim"), ("phone", "+77001234567"), (TOKEN_FIELD, TOKEN)],
         header_values={"Origin": PROMO, "Accept": "application/json"}, as_multipart=True)
def test_random_orders_never_fail(client: BrowserClient, kit: LeadKit, sandbox: SandboxNetwork, records: _Records,
                                  fields: list[tuple[str, str]], header_values: dict[str, str],
                                  as_multipart: bool) -> None:
    if len(sandbox.leads) > 500:
        sandbox.reset()
    sent = _encode(fields, kit)
    if as_multipart:
        # Names werkzeug cannot parse out of a part are the known bug pinned in
        # test_multipart_part_without_a_name_is_refused; steer around it here.
        sent = [(_NAMEABLE.sub("", name) or "x", value) for name, value in sent]
        response = client.post("/leadkit/order", data=MultiDict(sent), content_type="multipart/form-data",
                               headers=header_values)
    else:
        response = client.post("/leadkit/order", data=_quoted(sent),
                               content_type="application/x-www-form-urlencoded", headers=header_values)
    check_response(response, records)


@settings(FUZZ, max_examples=1000)
@given(body=raw_body, content_type=st.one_of(st.sampled_from(CONTENT_TYPES), header_text),
       method=st.sampled_from(METHODS), path=st.sampled_from(PATHS), query=header_text, header_values=headers)
@example(body=b"name=%FF%FE", content_type="application/x-www-form-urlencoded", method="POST",
         path="/leadkit/order", query="", header_values={})
@example(body=b"x" * 20000, content_type="application/x-www-form-urlencoded", method="POST",
         path="/leadkit/order", query="", header_values={})
@example(body=b"", content_type="", method="OPTIONS", path="/leadkit/order", query="",
         header_values={"Origin": PROMO})
def test_random_requests_never_fail(client: BrowserClient, records: _Records, body: bytes, content_type: str,
                                    method: str, path: str, query: str, header_values: dict[str, str]) -> None:
    response = client.open(path, method=method, data=body, content_type=content_type or None,
                           query_string=query, headers=header_values)
    check_response(response, records)


@settings(FUZZ, max_examples=50)
@given(disposition=st.sampled_from([b"form-data", b"form-data; name=", b'form-data; name="a\\"', b'form-data; name="\r"',
                                    b"attachment", b"form-data; nam=x"]),
       value=st.text(st.characters(codec="utf-8"), max_size=20).map(str.encode))
@example(disposition=b"form-data", value=b"Aigerim")
def test_multipart_part_without_a_name_is_refused(client: BrowserClient, records: _Records, disposition: bytes,
                                                  value: bytes) -> None:
    body = b"--B\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n--B--\r\n"
    response = client.post("/leadkit/order", data=body, content_type="multipart/form-data; boundary=B")
    check_response(response, records)
    assert 400 <= response.status_code < 500


# -- the pure parsers -------------------------------------------------------------

def assert_clean_tags(tags: dict[str, str], names: tuple[str, ...]) -> None:
    assert set(tags) <= set(names)
    for value in tags.values():
        assert isinstance(value, str) and 0 < len(value) <= MAX_TAG_LENGTH
        assert not TAG_CONTROL.search(value)
        assert value == value.lstrip()  # a cut may leave a trailing space, never a leading one


query_text = st.one_of(any_text, header_text,
                       st.lists(st.tuples(field_name, hostile_text), max_size=10).map(
                           lambda pairs: urlencode(pairs, quote_via=quote)))


@settings(FUZZ, max_examples=500)
@given(query=query_text)
@example(query="utm_source=%00%0A%C2%85fb%7F&sub1=" + "x" * 1000)
@example(query="utm_source=%FF%FE&clickid=%E2%80%AE")
def test_tags_from_query_string(query: str) -> None:
    tags = tags_from_query_string(query, STANDARD_TAGS, ALIASES)
    assert_clean_tags(tags, STANDARD_TAGS)


@settings(FUZZ, max_examples=500)
@given(referer=st.one_of(st.none(), header_text, query_text.map(lambda q: f"http://localhost/?{q}")),
       host=st.one_of(st.just("localhost"), header_text))
@example(referer="http://[zz/?utm_source=x", host="localhost")
@example(referer="http://localhost:99999/?utm_source=x", host="localhost:99999")
def test_tags_from_referer(referer: str | None, host: str) -> None:
    tags = tags_from_referer(referer, host, STANDARD_TAGS, ALIASES)
    assert_clean_tags(tags, STANDARD_TAGS)


COOKIE = TagCookie(SECRET, STANDARD_TAGS)


def _tampered(value: str) -> str:
    """The signature's first character changed (the last one may only hold padding bits)."""
    head, signature = value.rsplit(".", 1)
    return f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"

tag_dict = st.dictionaries(st.sampled_from(STANDARD_TAGS), hostile_text, max_size=12)


@settings(FUZZ, max_examples=500)
@given(value=st.one_of(st.none(), any_text, header_text, tag_dict.map(COOKIE.dumps).map(_tampered),
                       tag_dict.map(TagCookie("another-secret-0123456789", STANDARD_TAGS).dumps)))
def test_a_strange_tag_cookie_reads_as_no_tags(value: str | None) -> None:
    assert COOKIE.loads(value) == {}


@settings(FUZZ, max_examples=300)
@given(tags=tag_dict)
def test_tag_cookie_round_trip_keeps_clean_tags(tags: dict[str, str]) -> None:
    value = COOKIE.dumps(tags)
    assert len(value) <= 4096
    read = COOKIE.loads(value)
    assert_clean_tags(read, STANDARD_TAGS)
    for name, tag in read.items():
        assert tag == clean_value(tags[name])


trusted_networks = st.sampled_from([(), (ipaddress.ip_network("0.0.0.0/0"),), (ipaddress.ip_network("::/0"),),
                                    (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("fe80::/10"))])


@settings(FUZZ, max_examples=800)
@given(remote_addr=st.one_of(st.none(), ip_text), forwarded_for=st.one_of(st.none(), st.lists(ip_text).map(", ".join),
                                                                           header_text),
       proxies=st.integers(0, 10), header_ip=st.one_of(st.none(), ip_text), networks=trusted_networks)
@example(remote_addr="[::ffff:1.2.3.4]:80", forwarded_for=None, proxies=0, header_ip=None, networks=())
@example(remote_addr="fe80::1%eth0", forwarded_for=None, proxies=0, header_ip=None, networks=())
@example(remote_addr="127.0.0.1", forwarded_for="", proxies=1, header_ip="[zz", networks=())
def test_client_ip_is_always_an_address(remote_addr: str | None, forwarded_for: str | None, proxies: int,
                                        header_ip: str | None, networks: tuple[Any, ...]) -> None:
    ip = client_ip(remote_addr, forwarded_for, proxies, header_ip, networks)
    assert str(ipaddress.ip_address(ip)) == ip


@settings(FUZZ, max_examples=500)
@given(value=st.one_of(st.none(), ip_text, any_text))
def test_normalize_ip(value: str | None) -> None:
    normal = normalize_ip(value)
    if normal is not None:
        assert str(ipaddress.ip_address(normal)) == normal
        assert normalize_ip(normal) == normal


@settings(FUZZ, max_examples=300)
@given(user_agent=st.one_of(st.none(), st.sampled_from(USER_AGENTS), header_text, any_text,
                            st.text(min_size=500, max_size=5000)))
def test_user_agents(user_agent: str | None) -> None:
    assert isinstance(is_mobile(user_agent), bool)
    visitor = make_visitor("10.0.0.1", None, user_agent, 0)
    assert len(visitor.user_agent) <= MAX_USER_AGENT_LENGTH and visitor.user_agent.isprintable()
    assert isinstance(visitor.mobile, bool)


regions = st.one_of(st.sampled_from([("KZ",), ("kz", "kg"), ("RU",), (), ("ZZ",)]),
                    st.lists(st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=2, max_size=2),
                             max_size=3).map(tuple))


@settings(FUZZ, max_examples=500)
@given(raw=st.one_of(st.none(), phone, any_text), allowed=regions)
def test_parse_phone_raises_only_phone_error(raw: str | None, allowed: tuple[str, ...]) -> None:
    try:
        parsed = parse_phone(raw, allowed)
    except PhoneError as exc:
        assert exc.reason in ("empty", "invalid", "country")
        return
    assert parsed.digits.isascii() and parsed.digits.isdigit() and 8 <= len(parsed.digits) <= 15
    assert parsed.region in {r.upper() for r in allowed}


ORDER_CONFIG = make_config(form={"fields": list(OPTIONAL_ORDER_FIELDS)})


@settings(FUZZ, max_examples=500)
@given(fields=st.one_of(pairs, plausible).map(dict))
def test_read_order(fields: dict[str, str]) -> None:
    order, errors, values = read_order(fields, ORDER_CONFIG)
    assert (order is None) == bool(errors) or (order is None and not errors and "phone" not in values)
    assert set(values) <= set(FIELDS) and set(errors) <= set(FIELDS)
    if order is not None:
        assert 0 < len(order.name) <= FIELDS["name"].maxlength
        assert order.phone.digits.isdigit() and order.phone.region == "KZ"
        assert set(order.details) <= set(FIELDS) - {"name", "phone"}
