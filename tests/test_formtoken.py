"""Form tokens: issued, read back, and refused when forged or expired."""

from __future__ import annotations

import time
from typing import Callable

import pytest
from itsdangerous import URLSafeTimedSerializer

from leadkit.formtoken import FormTokens, IssuedToken, TokenError
from leadkit.tags import TagCookie
from support import SECRET, T0, FakeClock


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(T0)


def test_round_trip() -> None:
    tokens = FormTokens(SECRET)
    before = time.time()
    read = tokens.read(tokens.issue())
    assert isinstance(read, IssuedToken)
    assert isinstance(read.nonce, str) and len(read.nonce) >= 16
    # itsdangerous keeps whole seconds
    assert before - 1 <= read.issued_at <= time.time()


def test_issued_at_is_the_signing_time(clock: FakeClock) -> None:
    tokens = FormTokens(SECRET, clock=clock)
    token = tokens.issue()
    clock.advance(42)
    assert tokens.read(token).issued_at == T0


def test_the_clock_keeps_whole_seconds(clock: FakeClock) -> None:
    clock.advance(0.75)
    tokens = FormTokens(SECRET, clock=clock)
    assert tokens.read(tokens.issue()).issued_at == T0, "as itsdangerous signs: the second, not the fraction"


def test_each_issue_has_its_own_nonce() -> None:
    tokens = FormTokens(SECRET)
    nonces = {tokens.read(tokens.issue()).nonce for _ in range(200)}
    assert len(nonces) == 200


def test_the_same_token_reads_the_same_twice() -> None:
    tokens = FormTokens(SECRET)
    token = tokens.issue()
    assert tokens.read(token) == tokens.read(token)


def test_a_token_fits_the_length_limit() -> None:
    assert len(FormTokens(SECRET).issue()) <= 200


def _swap_payload(token: str) -> str:
    """Another token's payload under this token's timestamp and signature."""
    other = FormTokens(SECRET).issue()
    return other.split(".", 1)[0] + "." + token.split(".", 1)[1]


def _flip_middle_of_signature(token: str) -> str:
    head, signature = token.rsplit(".", 1)
    middle = len(signature) // 2
    replacement = "A" if signature[middle] != "A" else "B"
    return f"{head}.{signature[:middle]}{replacement}{signature[middle + 1:]}"


def _change_timestamp(token: str) -> str:
    payload, stamp, signature = token.split(".")
    return f"{payload}.{'A' if stamp[0] != 'A' else 'B'}{stamp[1:]}.{signature}"


@pytest.mark.parametrize("forge", [
    pytest.param(_swap_payload, id="payload-swapped"),
    pytest.param(_flip_middle_of_signature, id="signature-changed"),
    pytest.param(_change_timestamp, id="timestamp-changed"),
    pytest.param(lambda token: token.rsplit(".", 1)[0], id="signature-cut-off"),
    pytest.param(lambda token: token + "x", id="extra-character"),
    pytest.param(lambda token: token.upper(), id="upper-cased"),
    pytest.param(lambda token: FormTokens("another-secret-0123456789").issue(), id="another-secret"),
    pytest.param(lambda token: TagCookie(SECRET, ["utm_source"]).dumps({"utm_source": "fb"}),
                 id="same-secret-other-purpose"),
    pytest.param(lambda token: URLSafeTimedSerializer(SECRET, salt="leadkit.form-token").dumps(12345),
                 id="signed-but-not-a-nonce"),
    pytest.param(lambda token: "", id="empty"),
    pytest.param(lambda token: "x" * 300, id="300-chars-of-garbage"),
    pytest.param(lambda token: token + "." + "A" * 250, id="too-long"),
    pytest.param(lambda token: "...", id="only-dots"),
    pytest.param(lambda token: "\x00\n\u202e", id="control-characters"),
    pytest.param(lambda token: "Айгерим.токен.подпись", id="not-ascii"),
])
def test_forged_tokens_are_refused(forge: Callable[[str], str]) -> None:
    tokens = FormTokens(SECRET)
    with pytest.raises(TokenError) as caught:
        tokens.read(forge(tokens.issue()))
    assert caught.value.reason == "forged"
    assert "forged" in str(caught.value)


@pytest.mark.parametrize("age, expired", [
    pytest.param(0, False, id="fresh"),
    pytest.param(3599, False, id="just-in-time"),
    pytest.param(3600, False, id="at-max-age"),
    pytest.param(3601, True, id="one-second-late"),
    pytest.param(30 * 86400, True, id="a-month-old"),
])
def test_expiry(clock: FakeClock, age: int, expired: bool) -> None:
    tokens = FormTokens(SECRET, max_age=3600, clock=clock)
    token = tokens.issue()
    clock.advance(age)
    if not expired:
        assert tokens.read(token).issued_at == T0
        return
    with pytest.raises(TokenError) as caught:
        tokens.read(token)
    assert caught.value.reason == "expired"
    assert str(caught.value) == "form token expired"


def test_the_default_max_age_is_a_day(clock: FakeClock) -> None:
    tokens = FormTokens(SECRET, clock=clock)
    token = tokens.issue()
    clock.advance(86400)
    tokens.read(token)
    clock.advance(1)
    with pytest.raises(TokenError, match="expired"):
        tokens.read(token)


def test_token_error_is_a_value_error() -> None:
    assert issubclass(TokenError, ValueError)
