"""Tests for leadkit.tags: tags from query strings and Referers, and the signed tag cookie."""

from __future__ import annotations

import random
import string
import types

import itsdangerous
import itsdangerous.timed
import pytest

import leadkit.tags
from leadkit.signing import COMPRESS_FROM, CompactJSON, PreparedSerializer, PreparedSigner
from itsdangerous.encoding import base64_encode

from leadkit.tags import (
    MAX_TAG_LENGTH,
    STANDARD_TAGS,
    TagCookie,
    clean_value,
    merge_tags,
    tags_from_pairs,
    tags_from_query_string,
    tags_from_referer,
)

SECRET = "site-secret-0123456789abcdef"
ALIASES = {"clickid": "subid", "cid": "utm_campaign"}
SALT = "leadkit.tags"  # TagCookie's salt: forge() below must sign exactly as TagCookie does


# -- clean_value -----------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("  fb  ", "fb", id="surrounding-space"),
    pytest.param("a\x00b\nc\x7fd\x85e\x9f", "abcde", id="control-characters"),
    pytest.param("\t\r\n", "", id="only-control"),
    pytest.param("весна 2024", "весна 2024", id="cyrillic-kept"),
    pytest.param("x" * 300, "x" * MAX_TAG_LENGTH, id="cut-to-255"),
    pytest.param("\x00" * 10 + "y" * 260, "y" * MAX_TAG_LENGTH, id="cut-after-cleaning"),
])
def test_clean_value(value: str, expected: str) -> None:
    assert clean_value(value) == expected


# -- query strings -----------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("utm_source=fb&sub1=x", {"utm_source": "fb", "sub1": "x"}, id="known-names"),
    pytest.param("utm_source=fb&gclid=abc&page=2&UTM_SOURCE=tt", {"utm_source": "fb"}, id="unknown-names-dropped"),
    pytest.param("utm_source=fb&utm_source=tt", {"utm_source": "fb"}, id="first-value-wins"),
    pytest.param("sub1=&sub2=%20%20&sub3=ok", {"sub3": "ok"}, id="empty-values-dropped"),
    pytest.param("sub1=&sub1=late", {"sub1": "late"}, id="first-non-empty-value-wins"),
    pytest.param("subid=a%00b%0Ac%0Dd%7Fe%1Bf", {"subid": "abcdef"}, id="control-characters-stripped"),
    pytest.param("sub1=" + "x" * 300, {"sub1": "x" * 255}, id="cut-to-255"),
    pytest.param("utm_campaign=%D0%B2%D0%B5%D1%81%D0%BD%D0%B0", {"utm_campaign": "весна"},
                 id="percent-encoded-cyrillic"),
    pytest.param("utm_term=summer+sale%21", {"utm_term": "summer sale!"}, id="plus-is-space"),
    pytest.param("sub1=%FF%FE", {"sub1": "\ufffd\ufffd"}, id="undecodable-bytes-replaced"),
    pytest.param("uuid=0f3a-9c;sub5=a=b", {"uuid": "0f3a-9c;sub5=a=b"}, id="semicolon-is-not-a-separator"),
    pytest.param("", {}, id="empty"),
    pytest.param("&&=&utm_source", {}, id="garbage"),
])
def test_tags_from_query_string(query: str, expected: dict[str, str]) -> None:
    assert tags_from_query_string(query, STANDARD_TAGS) == expected


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("clickid=c1", {"subid": "c1"}, id="alias-maps-to-tag"),
    pytest.param("clickid=c1&subid=s1", {"subid": "s1"}, id="own-name-beats-alias-after"),
    pytest.param("subid=s1&clickid=c1", {"subid": "s1"}, id="own-name-beats-alias-before"),
    pytest.param("clickid=c1&clickid=c2", {"subid": "c1"}, id="alias-first-value-wins"),
    pytest.param("clickid=&clickid=c2", {"subid": "c2"}, id="alias-empty-value-skipped"),
    pytest.param("subid=&clickid=c1", {"subid": "c1"}, id="empty-own-name-lets-alias-in"),
    pytest.param("cid=spring&clickid=c1&sub1=x", {"utm_campaign": "spring", "subid": "c1", "sub1": "x"},
                 id="several-aliases"),
    pytest.param("CLICKID=c1", {}, id="alias-is-case-sensitive"),
])
def test_aliases(query: str, expected: dict[str, str]) -> None:
    assert tags_from_query_string(query, STANDARD_TAGS, ALIASES) == expected


def test_extra_names_are_picked_only_when_given() -> None:
    query = "gclid=g1&utm_source=fb"

    assert tags_from_query_string(query, STANDARD_TAGS) == {"utm_source": "fb"}
    assert tags_from_query_string(query, STANDARD_TAGS + ("gclid",)) == {"gclid": "g1", "utm_source": "fb"}


def test_tags_from_form_pairs() -> None:
    pairs = [("name", "John"), ("sub1", " a "), ("sub1", "b"), ("clickid", "c\x00d")]

    assert tags_from_pairs(pairs, STANDARD_TAGS, ALIASES) == {"sub1": "a", "subid": "cd"}


# -- merge_tags -------------------------------------------------------------------


@pytest.mark.parametrize(("layers", "expected"), [
    pytest.param(({"sub1": "a"}, {"sub1": "b"}), {"sub1": "b"}, id="later-wins"),
    pytest.param(({"sub1": "a"}, {"sub1": ""}), {"sub1": "a"}, id="later-empty-does-not-erase"),
    pytest.param(({"sub1": "a"}, {"sub2": "b"}, {"sub1": "c"}), {"sub1": "c", "sub2": "b"}, id="three-layers"),
    pytest.param(({"sub1": ""},), {}, id="empty-dropped"),
    pytest.param((), {}, id="nothing"),
])
def test_merge_tags(layers: tuple[dict[str, str], ...], expected: dict[str, str]) -> None:
    assert merge_tags(*layers) == expected


def test_merge_tags_does_not_change_its_inputs() -> None:
    first, second = {"sub1": "a"}, {"sub1": "b"}

    merge_tags(first, second)

    assert (first, second) == ({"sub1": "a"}, {"sub1": "b"})


# -- Referer --------------------------------------------------------------------


@pytest.mark.parametrize(("referer", "host", "expected"), [
    pytest.param("https://shop.test/land?utm_source=fb&sub1=x", "shop.test", {"utm_source": "fb", "sub1": "x"},
                 id="same-host-https"),
    pytest.param("http://shop.test/?utm_source=fb", "shop.test", {"utm_source": "fb"}, id="same-host-http"),
    pytest.param("https://SHOP.test/?utm_source=fb", "shop.TEST", {"utm_source": "fb"}, id="host-case-insensitive"),
    pytest.param("https://shop.test:8080/?utm_source=fb", "shop.test:8080", {"utm_source": "fb"},
                 id="same-host-and-port"),
    pytest.param("https://shop.test/?clickid=c1", "shop.test", {"subid": "c1"}, id="aliases-apply"),
    pytest.param("https://shop.test/land", "shop.test", {}, id="no-query"),
    pytest.param("https://evil.test/?utm_source=fb", "shop.test", {}, id="other-host"),
    pytest.param("https://shop.test.evil.test/?utm_source=fb", "shop.test", {}, id="host-as-prefix"),
    pytest.param("https://shop.test@evil.test/?utm_source=fb", "shop.test", {}, id="host-as-user-info"),
    pytest.param("https://shop.test:8080/?utm_source=fb", "shop.test", {}, id="other-port"),
    pytest.param("https://evil.test/?r=https://shop.test/%3Futm_source%3Dfb", "shop.test", {},
                 id="host-in-query"),
    pytest.param("javascript:alert(1)//shop.test/?utm_source=fb", "shop.test", {}, id="javascript-scheme"),
    pytest.param("ftp://shop.test/?utm_source=fb", "shop.test", {}, id="ftp-scheme"),
    pytest.param("//shop.test/?utm_source=fb", "shop.test", {}, id="scheme-relative"),
    pytest.param("/land?utm_source=fb", "shop.test", {}, id="path-only"),
    pytest.param("http://[::1/?utm_source=fb", "shop.test", {}, id="broken-ipv6-garbage"),
    pytest.param("\x00\xff not a url ?utm_source=fb", "shop.test", {}, id="garbage"),
    pytest.param("", "shop.test", {}, id="empty"),
    pytest.param(None, "shop.test", {}, id="none"),
])
def test_tags_from_referer(referer: str | None, host: str, expected: dict[str, str]) -> None:
    assert tags_from_referer(referer, host, STANDARD_TAGS, ALIASES) == expected


# -- the cookie ------------------------------------------------------------------


@pytest.fixture
def cookie() -> TagCookie:
    return TagCookie(SECRET, STANDARD_TAGS)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """itsdangerous.timed (and TagCookie, for the cookies it has checked already) read the time as
    ``time.time()``; give them a clock the test sets."""
    now = types.SimpleNamespace(value=1_700_000_000.0)
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: now.value))
    monkeypatch.setattr(leadkit.tags, "time", types.SimpleNamespace(time=lambda: now.value))
    return now


def forge(payload: object, secret: str = SECRET) -> str:
    """Sign ``payload`` as TagCookie does, to feed ``loads`` things ``dumps`` never writes."""
    return itsdangerous.URLSafeTimedSerializer(secret, salt=SALT).dumps(payload)


def sign_raw(body: bytes, secret: str = SECRET) -> str:
    """A validly signed cookie whose payload is ``body`` (not necessarily base64 JSON)."""
    signer = itsdangerous.URLSafeTimedSerializer(secret, salt=SALT).make_signer(SALT)
    return signer.sign(body).decode("ascii")


@pytest.mark.parametrize("tags", [
    pytest.param({"utm_source": "fb", "sub1": "x"}, id="plain"),
    pytest.param({"utm_campaign": "весна", "subid": "клик-1"}, id="cyrillic"),
    pytest.param({name: f"v-{name}" for name in STANDARD_TAGS}, id="every-tag"),
    pytest.param({"sub5": "a\"b'c;d,e=f g"}, id="cookie-unsafe-characters"),
    pytest.param({}, id="empty"),
])
def test_cookie_round_trip(cookie: TagCookie, tags: dict[str, str]) -> None:
    value = cookie.dumps(tags)

    assert cookie.loads(value) == tags
    assert all(ch in string.ascii_letters + string.digits + "-_." for ch in value)


def test_cookie_keeps_only_known_non_empty_tags(cookie: TagCookie) -> None:
    value = cookie.dumps({"utm_source": "fb", "gclid": "g1", "sub2": ""})

    assert cookie.loads(value) == {"utm_source": "fb"}
    assert itsdangerous.URLSafeTimedSerializer(SECRET, salt=SALT).loads(value) == {"utm_source": "fb"}


def test_cookie_settings(cookie: TagCookie) -> None:
    custom = TagCookie(SECRET, STANDARD_TAGS, name="lk", days=7)

    assert (cookie.name, cookie.max_age) == ("leadkit_tags", 30 * 24 * 3600)
    assert (custom.name, custom.max_age) == ("lk", 7 * 24 * 3600)


def test_forge_signs_like_tag_cookie(cookie: TagCookie) -> None:
    # The garbage tests below rely on forge() producing cookies TagCookie accepts.
    assert cookie.loads(forge({"subid": "s1"})) == {"subid": "s1"}


def test_tampered_cookie_reads_as_no_tags(cookie: TagCookie) -> None:
    value = cookie.dumps({"subid": "mine"})
    payload, timestamp, signature = value.split(".")
    theirs = cookie.dumps({"subid": "theirs"}).split(".")[0]

    assert cookie.loads(value) == {"subid": "mine"}
    assert cookie.loads(f"{theirs}.{timestamp}.{signature}") == {}
    # The first character, not the last: the last base64 character carries padding bits, and
    # changing only those leaves the decoded signature as it was.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert cookie.loads(f"{payload}.{timestamp}.{flipped}") == {}
    assert cookie.loads(f"{payload}.{timestamp}.") == {}
    assert cookie.loads(payload) == {}


def test_cookie_signed_with_another_secret_reads_as_no_tags(cookie: TagCookie) -> None:
    other = TagCookie("another-secret-0123456789", STANDARD_TAGS)

    assert cookie.loads(other.dumps({"subid": "s1"})) == {}
    assert cookie.loads(forge({"subid": "s1"}, secret="another-secret-0123456789")) == {}


def test_cookie_with_another_salt_reads_as_no_tags(cookie: TagCookie) -> None:
    value = itsdangerous.URLSafeTimedSerializer(SECRET, salt="something.else").dumps({"subid": "s1"})

    assert cookie.loads(value) == {}


@pytest.mark.parametrize(("age_hours", "expected"), [
    pytest.param(0, {"subid": "s1"}, id="fresh"),
    pytest.param(23, {"subid": "s1"}, id="within-a-day"),
    pytest.param(24, {"subid": "s1"}, id="exactly-a-day"),
    pytest.param(25, {}, id="expired"),
    pytest.param(24 * 365, {}, id="a-year-old"),
])
def test_cookie_expires_after_days(clock: types.SimpleNamespace, age_hours: int,
                                   expected: dict[str, str]) -> None:
    cookie = TagCookie(SECRET, STANDARD_TAGS, days=1)
    value = cookie.dumps({"subid": "s1"})

    clock.value += age_hours * 3600

    assert cookie.loads(value) == expected


def test_a_cookie_read_before_still_expires(clock: types.SimpleNamespace) -> None:
    """A cookie checked once is known after (a visitor sends it with every request), but only
    until the age it would be refused at."""
    cookie = TagCookie(SECRET, STANDARD_TAGS, days=1)
    value = cookie.dumps({"subid": "s1"})
    assert cookie.loads(value) == {"subid": "s1"}
    clock.value += 24 * 3600
    assert cookie.loads(value) == {"subid": "s1"}
    clock.value += 1
    assert cookie.loads(value) == {}


def test_a_cookie_read_before_is_given_as_a_copy(cookie: TagCookie) -> None:
    value = cookie.dumps({"subid": "s1"})
    cookie.loads(value)["subid"] = "changed by a caller"
    assert cookie.loads(value) == {"subid": "s1"}


@pytest.mark.parametrize("tags", [
    pytest.param({"utm_source": "fb", "sub1": "клик-1"}, id="short"),
    pytest.param({"utm_source": "fb", "sub1": "клик-1", "sub5": "x" * 200}, id="short-compressible"),
    pytest.param({"utm_source": "fb", "sub1": "клик-1", "sub5": "x" * 250, "sub4": "y" * 250}, id="long-compressible"),
])
def test_cookies_are_signed_and_read_as_itsdangerous_does(cookie: TagCookie, tags: dict[str, str]) -> None:
    """TagCookie prepares its signer once and signs with the one-call HMAC: the cookies stay
    itsdangerous' own, both ways, for cookies set before the change and after. A payload under
    COMPRESS_FROM bytes of JSON is never compressed (itsdangerous compresses it when zlib makes it
    shorter); from there on, the same bytes."""
    plain = itsdangerous.URLSafeTimedSerializer(SECRET, salt=SALT, serializer=CompactJSON)
    json_length = len(CompactJSON.dumps(tags).encode())
    assert plain.loads(cookie.dumps(tags), max_age=60) == tags
    assert cookie.loads(plain.dumps(tags)) == tags
    ours, theirs = cookie.dumps(tags).split("."), plain.dumps(tags).split(".")
    if json_length < COMPRESS_FROM:
        assert ours[0] != ""  # not compressed ('.' first)
    if ours[-2] != theirs[-2]:  # not signed in the same second
        return
    if json_length >= COMPRESS_FROM or theirs[0] != "":
        assert ours == theirs
    else:
        assert ours[0] != "" and ours != theirs  # theirs compressed, ours not


def test_unknown_names_in_the_cookie_are_dropped() -> None:
    # A cookie written while tags.extra had 'gclid', read after it was removed.
    writer = TagCookie(SECRET, STANDARD_TAGS + ("gclid",))
    reader = TagCookie(SECRET, STANDARD_TAGS)
    value = writer.dumps({"gclid": "g1", "sub1": "x"})

    assert writer.loads(value) == {"gclid": "g1", "sub1": "x"}
    assert reader.loads(value) == {"sub1": "x"}


def _random_text(rng: random.Random, alphabet: str, length: int = MAX_TAG_LENGTH) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


@pytest.mark.parametrize(("extra", "alphabet"), [
    pytest.param(0, string.ascii_letters + string.digits, id="standard-ascii"),
    pytest.param(0, "абвгдеёжзийклмнопрстуфхцчшщъыьэюя", id="standard-cyrillic"),
    pytest.param(200, string.ascii_letters + string.digits, id="two-hundred-extra-tags"),
])
def test_huge_tags_still_fit_in_a_cookie(extra: int, alphabet: str) -> None:
    rng = random.Random(20240501)  # random text defeats itsdangerous's zlib compression
    names = STANDARD_TAGS + tuple(f"x{i}" for i in range(extra))
    cookie = TagCookie(SECRET, names)
    tags = {name: _random_text(rng, alphabet) for name in names}

    value = cookie.dumps(tags)

    assert len(value) <= 3000
    kept = cookie.loads(value)
    assert kept, "some tags should survive"
    assert len(kept) < len(tags)
    assert all(tags[name] == text for name, text in kept.items())


def test_dropping_tags_to_fit_keeps_the_short_ones() -> None:
    rng = random.Random(7)
    cookie = TagCookie(SECRET, STANDARD_TAGS)
    tags = {name: _random_text(rng, string.ascii_letters) for name in STANDARD_TAGS}
    tags["sub5"] = "short"

    kept = cookie.loads(cookie.dumps(tags))

    assert kept["sub5"] == "short"


@pytest.mark.parametrize("value", [
    pytest.param(None, id="none"),
    pytest.param("", id="empty"),
    pytest.param("garbage", id="garbage"),
    pytest.param("a.b.c", id="three-dots"),
    pytest.param("....", id="dots"),
    pytest.param("\x00\xff\u2603", id="binary"),
    pytest.param("x" * 5000, id="too-long"),
])
def test_garbage_cookie_reads_as_no_tags(cookie: TagCookie, value: str | None) -> None:
    assert cookie.loads(value) == {}


@pytest.mark.parametrize(("payload", "expected"), [
    pytest.param(["subid", "s1"], {}, id="a-list"),
    pytest.param("subid=s1", {}, id="a-string"),
    pytest.param(42, {}, id="a-number"),
    pytest.param(None, {}, id="null"),
    pytest.param({"subid": 5, "sub1": ["x"], "sub2": {"a": "b"}, "sub3": "ok"}, {"sub3": "ok"},
                 id="non-text-values-dropped"),
    pytest.param({"subid": "a\x00b\n"}, {"subid": "ab"}, id="values-cleaned"),
    pytest.param({"sub1": "y" * 1000}, {"sub1": "y" * MAX_TAG_LENGTH}, id="values-cut"),
])
def test_signed_but_odd_payloads(cookie: TagCookie, payload: object, expected: dict[str, str]) -> None:
    assert cookie.loads(forge(payload)) == expected


@pytest.mark.parametrize("body", [
    pytest.param(base64_encode(b"not json"), id="base64-of-non-json"),
    pytest.param(b"!!not-base64!!", id="not-base64"),
    pytest.param(b"." + base64_encode(b"not zlib"), id="bad-compressed"),
])
def test_signed_non_json_payload_reads_as_no_tags(cookie: TagCookie, body: bytes) -> None:
    assert cookie.loads(sign_raw(body)) == {}


class Plain(itsdangerous.TimestampSigner):
    """itsdangerous' signer at a fixed time."""

    def get_timestamp(self) -> int:
        return 1_700_000_000


class Prepared(PreparedSigner):
    """leadkit's prepared signer at the same fixed time."""

    def get_timestamp(self) -> int:
        return 1_700_000_000


@pytest.mark.parametrize("secret", [SECRET, "ключ-секрет-0123456789", "x" * 200])
@pytest.mark.parametrize("salt", ["leadkit.tags", "leadkit.form-token", "leadkit.lead"])
def test_the_prepared_signer_signs_as_itsdangerous_does(secret: str, salt: str) -> None:
    """leadkit.signing.PreparedSigner (key derived once, one-call HMAC) gives itsdangerous' bytes."""
    for value in (b"", b"abc", "клик".encode(), bytes(range(256))):
        signed = Prepared(secret, salt=salt).sign(value)
        assert signed == Plain(secret, salt=salt).sign(value)
        assert Plain(secret, salt=salt).unsign(signed) == value
    assert not Prepared(secret, salt=salt).verify_signature(b"abc", b"AAAA")


@pytest.mark.parametrize("secret", [SECRET, "ключ-секрет-0123456789"])
@pytest.mark.parametrize("payload", [
    pytest.param("nonce-123", id="a-form-token"),
    pytest.param({"utm_source": "fb", "sub1": "клик"}, id="short-tags"),
    pytest.param({"sub5": "x" * 600}, id="long-compressible"),
    pytest.param({"sub5": "".join(random.Random(7).choice(string.ascii_letters) for _ in range(700))},
                 id="long-incompressible"),
])
def test_the_prepared_serializer_writes_itsdangerous_bytes_at_a_fixed_time(secret: str, payload: object) -> None:
    """PreparedSerializer.dumps signs in one pass: at the same second, the bytes itsdangerous writes for
    a payload it would not compress, or one from COMPRESS_FROM bytes of JSON on; a signer class that
    signs its own way is used as it is."""
    class OwnWay(Prepared):
        def sign(self, value: str | bytes) -> bytes:
            return b"own-" + super().sign(value)

    theirs = itsdangerous.URLSafeTimedSerializer(secret, salt=SALT, signer=Plain).dumps(payload)
    assert PreparedSerializer(secret, salt=SALT, signer=Prepared).dumps(payload) == theirs
    assert PreparedSerializer(secret, salt=SALT, signer=OwnWay).dumps(payload) == "own-" + theirs
    assert PreparedSerializer(secret, salt="another", signer=Prepared).dumps(payload, salt=SALT) == theirs


def test_the_signing_pieces_give_itsdangerous_bytes() -> None:
    """leadkit.signing's base64 and its HMAC keyed once, against itsdangerous' base64 and hmac.digest:
    every length of input, and more keys than the HMAC keeps keyed."""
    import hashlib
    import hmac

    from leadkit import signing

    rng = random.Random(11)
    for length in range(0, 300):
        data = bytes(rng.randrange(256) for _ in range(length))
        assert signing._base64(data) == base64_encode(data)
    algorithm = signing._PreparedHMAC(hashlib.sha1)
    for round_ in range(3):
        for n in range(12):
            key, value = f"key-{n}".encode() * (n + 1), f"value {round_} {n}".encode() * n
            assert algorithm.get_signature(key, value) == hmac.digest(key, value, hashlib.sha1)
    assert len(algorithm._keyed) <= 8
